#include "base/free_memory.h"

#include <malloc.h>

namespace meridian::base {

void release_free_memory() { malloc_trim(0); }

}  // namespace meridian::base
