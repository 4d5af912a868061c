// A TCP port on 127.0.0.1 that nothing is bound to now, for tests that must name
// their members' ports before starting them.
#pragma once

#include <cstdint>

namespace meridian::base {

// Chosen at random below the kernel's ephemeral range (32768-60999 by default),
// from which outgoing connections and port-0 listeners take theirs: a port
// picked from that range could be taken by another test in the moment between
// choosing it and binding it (a flaky cluster test under parallel ctest).
// 0 if no port could be bound.
uint16_t free_loopback_port();

}  // namespace meridian::base
