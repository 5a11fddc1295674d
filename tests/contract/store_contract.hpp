#pragma once

#include <memory>
#include <ostream>
#include <string>

#include <gtest/gtest.h>

#include "core/ports/store.hpp"

namespace stratus::contract {

/// Makes fresh, empty stores for the contract suite. One factory per store
/// implementation; a DynamoDB factory creates fresh tables in make().
class store_factory {
public:
    virtual ~store_factory() = default;

    /// A short name used in test names ("Memory", "SqliteFile", ...): letters and digits only.
    virtual std::string name() const = 0;

    /// A new, empty store, independent of every store made before. nullptr on
    /// failure (the test then fails).
    virtual std::unique_ptr<store> make() = 0;
};

/// The contract suite, value-parameterised over factories. The cases live in
/// store_contract.cpp; each implementation instantiates it once:
///
///     INSTANTIATE_TEST_SUITE_P(Memory, StoreContract,
///                              ::testing::Values(std::make_shared<memory_store_factory>()),
///                              stratus::contract::factory_name);
class StoreContract : public ::testing::TestWithParam<std::shared_ptr<store_factory>> {
protected:
    void SetUp() override;

    std::unique_ptr<store> store_;
};

/// Test-name generator for INSTANTIATE_TEST_SUITE_P.
std::string factory_name(::testing::TestParamInfo<std::shared_ptr<store_factory>> const& info);

/// Prints a factory by name in GoogleTest messages.
void PrintTo(std::shared_ptr<store_factory> const& factory, std::ostream* os);

} // namespace stratus::contract
