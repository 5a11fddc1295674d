#include "adapters/sqlite/sqlite_store.hpp"

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

#include "contract/store_contract.hpp"

namespace stratus::contract {
namespace {

/// Fresh private in-memory databases (":memory:", no WAL).
class sqlite_memory_factory final : public store_factory {
public:
    std::string name() const override { return "SqliteInMemory"; }
    std::unique_ptr<store> make() override
    {
        auto opened = sqlite_store::open(":memory:", sqlite_options{});
        if (!opened) {
            ADD_FAILURE() << opened.error().detail;
            return nullptr;
        }
        return std::move(*opened);
    }
};

/// Fresh database files in WAL mode, one per test, under one temporary
/// directory that is removed with the factory.
class sqlite_file_factory final : public store_factory {
public:
    sqlite_file_factory()
    {
        auto pattern = (std::filesystem::temp_directory_path() / "stratus-store-contract-XXXXXX").string();
        if (::mkdtemp(pattern.data()) != nullptr) {
            directory_ = pattern;
        }
    }
    ~sqlite_file_factory() override
    {
        std::error_code ignored;
        if (!directory_.empty()) {
            std::filesystem::remove_all(directory_, ignored);
        }
    }
    sqlite_file_factory(sqlite_file_factory const&) = delete;
    sqlite_file_factory& operator=(sqlite_file_factory const&) = delete;

    std::string name() const override { return "SqliteFile"; }
    std::unique_ptr<store> make() override
    {
        if (directory_.empty()) {
            ADD_FAILURE() << "no temporary directory";
            return nullptr;
        }
        auto const file = directory_ / ("store-" + std::to_string(++files_) + ".db");
        auto opened = sqlite_store::open(file, sqlite_options{});
        if (!opened) {
            ADD_FAILURE() << opened.error().detail;
            return nullptr;
        }
        return std::move(*opened);
    }

private:
    std::filesystem::path directory_;
    int files_ = 0;
};

INSTANTIATE_TEST_SUITE_P(
    Sqlite, StoreContract,
    ::testing::Values(std::shared_ptr<store_factory>(std::make_shared<sqlite_memory_factory>()),
                      std::shared_ptr<store_factory>(std::make_shared<sqlite_file_factory>())),
    factory_name);

} // namespace
} // namespace stratus::contract
