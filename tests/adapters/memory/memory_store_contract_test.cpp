#include "adapters/memory/memory_store.hpp"

#include <memory>
#include <string>

#include "contract/store_contract.hpp"

namespace stratus::contract {
namespace {

/// Fresh memory stores for the contract suite.
class memory_store_factory final : public store_factory {
public:
    std::string name() const override { return "Memory"; }
    std::unique_ptr<store> make() override { return std::make_unique<memory_store>(); }
};

INSTANTIATE_TEST_SUITE_P(
    Memory, StoreContract,
    ::testing::Values(std::shared_ptr<store_factory>(std::make_shared<memory_store_factory>())),
    factory_name);

} // namespace
} // namespace stratus::contract
