#include "storage/file_system.h"

namespace meridian::storage {

std::string join_path(std::string_view dir, std::string_view name) {
  // Trailing slashes of `dir` (but not a lone "/") and leading ones of `name` are
  // dropped, so that "a/" + "b" and "a" + "/b" both give "a/b".
  while (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
  while (!name.empty() && name.front() == '/') name.remove_prefix(1);
  if (dir.empty()) return std::string(name);
  std::string out(dir);
  if (out.back() != '/') out += '/';
  out += name;
  return out;
}

}  // namespace meridian::storage
