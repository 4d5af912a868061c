#include "storage/file_system.h"

#include <vector>

namespace meridian::storage {
namespace {

std::string parent_dir(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  const size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

bool is_root(std::string_view path) { return path == "/" || path == "." || path.empty(); }

}  // namespace

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

Status create_dir_durably(FileSystem& fs, const std::string& path) {
  // The missing directories, deepest first. A root always exists.
  std::vector<std::string> missing;
  for (std::string p = path; !is_root(p) && !fs.exists(p); p = parent_dir(p)) missing.push_back(p);
  if (missing.empty()) return Status::ok();
  if (Status s = fs.create_dir(path); !s.is_ok()) return s;
  // Outermost first, so that no synced entry ever sits in a directory whose own
  // entry could still vanish.
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (Status s = fs.sync_dir(parent_dir(*it)); !s.is_ok()) return s;
  }
  return Status::ok();
}

}  // namespace meridian::storage
