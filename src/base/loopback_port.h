// A TCP port on 127.0.0.1 that nothing is bound to now, for tests that must name
// their members' ports before starting them.
#pragma once

#include <cstdint>

namespace meridian::base {

// Chosen at random below the kernel's ephemeral range (32768-60999 by default),
// from which outgoing connections and port-0 listeners take theirs: a port
// picked from that range could be taken by another test in the moment between
// choosing it and binding it (a flaky cluster test under parallel ctest).
//
// Test processes run side by side, so a port that is free now may be picked by
// another one before this one binds it. Each pick therefore also takes an
// exclusive flock on $TMPDIR/meridian-test-ports/<port> (the same lock the
// Python cluster harness takes) and keeps it for the life of the process: no
// two test processes, C++ or Python, and no two calls in one, get the same port.
// 0 if no port could be had.
uint16_t free_loopback_port();

}  // namespace meridian::base
