#include "api/defragmenter.h"

#include <gtest/gtest.h>

#include <stdlib.h>  // mkdtemp (POSIX)

#include <filesystem>
#include <future>

namespace meridian::api {
namespace {

TEST(DefragmenterTest, EveryRequestIsAnsweredByARunThatBeganAfterIt) {
  std::string dir = (std::filesystem::temp_directory_path() / "defragmenter_test.XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  kv::StoreOptions options;
  options.dir = dir;
  auto opened = kv::MvccStore::open(options);
  ASSERT_TRUE(opened.is_ok()) << opened.status();
  std::unique_ptr<kv::MvccStore> store = std::move(opened).value();
  Defragmenter d(store.get());
  std::vector<std::future<base::Status>> answers;
  for (int i = 0; i < 5; ++i) {
    auto promise = std::make_shared<std::promise<base::Status>>();
    answers.push_back(promise->get_future());
    ASSERT_TRUE(d.request([promise](const base::Status& s) { promise->set_value(s); }));
  }
  for (auto& a : answers) {
    ASSERT_EQ(a.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    EXPECT_TRUE(a.get().is_ok());
  }
  // Requests that came together share runs: never more runs than requests.
  EXPECT_GE(d.runs(), 1u);
  EXPECT_LE(d.runs(), 5u);

  d.stop();
  EXPECT_FALSE(d.request([](const base::Status&) { ADD_FAILURE() << "answered after stop"; }));
  d.stop();  // idempotent
  store.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace meridian::api
