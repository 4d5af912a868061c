#include "observe/metrics.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

#include "base/assert.h"

namespace meridian::observe {
namespace {

// Adds to an atomic double by compare-and-swap (portable where fetch_add on
// floating-point atomics is not).
void atomic_add(std::atomic<double>& a, double d) {
  double cur = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(cur, cur + d, std::memory_order_relaxed)) {
  }
}

enum class Kind : uint8_t { kCounter, kGauge, kHistogram };

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kCounter:
      return "counter";
    case Kind::kGauge:
      return "gauge";
    case Kind::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// Metric names: [a-zA-Z_:][a-zA-Z0-9_:]*; label names: [a-zA-Z_][a-zA-Z0-9_]*,
// "__" prefixes reserved (Prometheus data model, "Metric names and labels").
bool valid_name(const std::string& s, bool allow_colon) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (alpha || (allow_colon && c == ':')) continue;
    if (digit && i > 0) continue;
    return false;
  }
  return true;
}

void check_names(const std::string& name, const Labels& labels) {
  MERIDIAN_ASSERT(valid_name(name, true), "invalid metric name '", name, "'");
  for (const auto& [label, value] : labels) {
    MERIDIAN_ASSERT(valid_name(label, false), "invalid label name '", label, "' in ", name);
    MERIDIAN_ASSERT(label.rfind("__", 0) != 0, "reserved label name '", label, "' in ", name);
  }
}

// Text format 0.0.4: HELP escapes backslash and newline; label values also the quote.
std::string escape(const std::string& s, bool quote) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

// Floats as the format wants them: shortest round-trip form, +Inf/-Inf/NaN.
std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

// {a="1",b="2"} (empty when there are no labels), with `le` appended if given.
std::string label_block(const Labels& labels, const std::string* le = nullptr) {
  if (labels.empty() && le == nullptr) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out += ',';
    first = false;
    out += name;
    out += "=\"";
    out += escape(value, true);
    out += '"';
  }
  if (le != nullptr) {
    if (!first) out += ',';
    out += "le=\"";
    out += *le;
    out += '"';
  }
  out += '}';
  return out;
}

std::string sample_line(const std::string& name, const Labels& labels, const std::string& value) {
  return name + label_block(labels) + " " + value + "\n";
}

std::string histogram_lines(const std::string& name, const Labels& labels,
                            const Histogram::Snapshot& snap) {
  std::string out;
  for (size_t i = 0; i <= snap.bounds.size(); ++i) {
    const std::string le = i < snap.bounds.size() ? format_value(snap.bounds[i]) : "+Inf";
    out += name + "_bucket" + label_block(labels, &le) + " " + std::to_string(snap.cumulative[i]) +
           "\n";
  }
  out += sample_line(name + "_sum", labels, format_value(snap.sum));
  out += sample_line(name + "_count", labels, std::to_string(snap.count));
  return out;
}

// One family as rendered: its samples' lines per label set, sorted by labels.
struct RenderedFamily {
  Kind kind = Kind::kGauge;
  std::string help;
  std::map<Labels, std::string> samples;
};
using Rendered = std::map<std::string, RenderedFamily>;

RenderedFamily& family_for(Rendered& out, const std::string& name, const std::string& help,
                           Kind kind) {
  auto [it, inserted] = out.try_emplace(name);
  if (inserted) {
    it->second.kind = kind;
    it->second.help = help;
  }
  MERIDIAN_ASSERT(it->second.kind == kind, "metric ", name, " reported as ", kind_name(kind),
                  " but it is a ", kind_name(it->second.kind));
  return it->second;
}

// The Collector handed to collectors at render time: adds their samples to `out`.
class RenderCollector final : public Collector {
 public:
  explicit RenderCollector(Rendered* out) : out_(out) {}

  void gauge(const std::string& name, const std::string& help, const Labels& labels,
             double value) override {
    add(name, help, Kind::kGauge, labels, value);
  }
  void counter(const std::string& name, const std::string& help, const Labels& labels,
               double value) override {
    add(name, help, Kind::kCounter, labels, value);
  }

 private:
  void add(const std::string& name, const std::string& help, Kind kind, const Labels& labels,
           double value) {
    check_names(name, labels);
    family_for(*out_, name, help, kind).samples[labels] =
        sample_line(name, labels, format_value(value));
  }

  Rendered* out_;
};

}  // namespace

void Gauge::add(double d) { atomic_add(v_, d); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    MERIDIAN_ASSERT(std::isfinite(bounds_[i]), "histogram bound ", i, " is not finite");
    MERIDIAN_ASSERT(i == 0 || bounds_[i - 1] < bounds_[i], "histogram bounds not ascending at ", i);
  }
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) {
  // Bucket i counts v <= bounds[i] (the `le` semantics); NaN only reaches +Inf.
  size_t i = bounds_.size();
  if (!std::isnan(v)) {
    i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  }
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  atomic_add(sum_, v);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  s.cumulative.resize(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = total;
  }
  s.count = total;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> exponential_buckets(double start, double factor, int count) {
  MERIDIAN_ASSERT(start > 0, "exponential buckets need a positive start, not ", start);
  MERIDIAN_ASSERT(factor > 1, "exponential buckets need a factor above 1, not ", factor);
  MERIDIAN_ASSERT(count >= 1, "exponential buckets need at least one bucket, not ", count);
  std::vector<double> bounds;
  bounds.reserve(static_cast<size_t>(count));
  double b = start;
  for (int i = 0; i < count; ++i) {
    bounds.push_back(b);
    b *= factor;
  }
  return bounds;
}

struct Registry::Family {
  Kind kind;
  std::string help;
  std::vector<double> bounds;  // histograms: every label set shares them
  std::map<Labels, std::unique_ptr<Counter>> counters;
  std::map<Labels, std::unique_ptr<Gauge>> gauges;
  std::map<Labels, std::unique_ptr<Histogram>> histograms;
};

namespace {

template <class F>
F& find_or_add_family(std::map<std::string, std::unique_ptr<F>>& families, const std::string& name,
                      const std::string& help, Kind kind) {
  auto& slot = families[name];
  if (!slot) {
    slot = std::make_unique<F>();
    slot->kind = kind;
    slot->help = help;
  }
  MERIDIAN_ASSERT(slot->kind == kind, "metric ", name, " registered as ", kind_name(kind),
                  " but it is a ", kind_name(slot->kind));
  MERIDIAN_ASSERT(slot->help == help, "metric ", name, " registered with two help texts");
  return *slot;
}

}  // namespace

Counter* Registry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  check_names(name, labels);
  std::lock_guard lock(mu_);
  auto& slot = find_or_add_family(families_, name, help, Kind::kCounter).counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return slot.get();
}

Gauge* Registry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  check_names(name, labels);
  std::lock_guard lock(mu_);
  auto& slot = find_or_add_family(families_, name, help, Kind::kGauge).gauges[labels];
  if (!slot) slot = std::make_unique<Gauge>();
  return slot.get();
}

Histogram* Registry::histogram(const std::string& name, const std::string& help,
                               std::vector<double> bounds, const Labels& labels) {
  check_names(name, labels);
  for (const auto& label : labels) {
    MERIDIAN_ASSERT(label.first != "le", "histogram ", name, " may not use the label 'le'");
  }
  std::lock_guard lock(mu_);
  Family& family = find_or_add_family(families_, name, help, Kind::kHistogram);
  if (family.histograms.empty()) {
    family.bounds = bounds;
  } else {
    MERIDIAN_ASSERT(family.bounds == bounds, "histogram ", name, " registered with other bounds");
  }
  auto& slot = family.histograms[labels];
  if (!slot) slot = std::make_unique<Histogram>(std::move(bounds));
  return slot.get();
}

Registry::Registry() = default;
Registry::~Registry() = default;

uint64_t Registry::add_collector(CollectFn fn) {
  std::lock_guard lock(mu_);
  const uint64_t id = next_collector_++;
  collectors_.emplace(id, std::move(fn));
  return id;
}

void Registry::remove_collector(uint64_t id) {
  std::lock_guard lock(mu_);
  collectors_.erase(id);
}

std::string Registry::render() const {
  Rendered out;
  std::lock_guard lock(mu_);
  for (const auto& [name, family] : families_) {
    RenderedFamily& r = family_for(out, name, family->help, family->kind);
    for (const auto& [labels, c] : family->counters) {
      r.samples[labels] = sample_line(name, labels, std::to_string(c->value()));
    }
    for (const auto& [labels, g] : family->gauges) {
      r.samples[labels] = sample_line(name, labels, format_value(g->value()));
    }
    for (const auto& [labels, h] : family->histograms) {
      r.samples[labels] = histogram_lines(name, labels, h->snapshot());
    }
  }
  RenderCollector collector(&out);
  for (const auto& [id, fn] : collectors_) fn(collector);

  std::string text;
  for (const auto& [name, family] : out) {
    text += "# HELP " + name + " " + escape(family.help, false) + "\n";
    text += "# TYPE " + name + " " + kind_name(family.kind) + "\n";
    for (const auto& [labels, lines] : family.samples) text += lines;
  }
  return text;
}

uint64_t process_rss_bytes() {
  // statm: size resident shared text lib data dt, in pages (proc(5)).
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size_pages = 0;
  unsigned long resident_pages = 0;
  const int n = std::fscanf(f, "%lu %lu", &size_pages, &resident_pages);
  std::fclose(f);
  const long page = sysconf(_SC_PAGESIZE);
  if (n != 2 || page <= 0) return 0;
  return static_cast<uint64_t>(resident_pages) * static_cast<uint64_t>(page);
}

}  // namespace meridian::observe
