// JSON Web Key Sets -> jwks::parse (the Cognito pool's keys, fetched over
// HTTPS), and decode_canonical_base64url on the raw input. Oracles: a parsed
// set holds 1-32 usable keys with distinct, sorted, well-sized kids, and never
// verifies a signature it was not given; a decoded base64url text is the one
// canonical encoding of its bytes (re-encoding gives the input back).

#include <cstdint>
#include <string>

#include "adapters/jwt/compact_jws.hpp"
#include "adapters/jwt/jwks.hpp"
#include "fuzz_support.hpp"

namespace {

using stratus::fuzz::expect;

} // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    auto const text = stratus::fuzz::as_text(data, size);

    if (auto const decoded = stratus::decode_canonical_base64url(text)) {
        expect(stratus::fuzz::base64url(*decoded) == text,
               "canonical base64url: decode -> encode is the identity");
    }

    auto const set = stratus::jwks::parse(text);
    if (!set) {
        expect(set.error().code == stratus::errc::invalid_request, "a refused JWKS is invalid_request");
        expect(!set.error().detail.empty(), "a refusal says why");
        return 0;
    }
    expect(set->size() >= 1 && set->size() <= stratus::jwks::max_keys, "1-32 usable keys");
    auto const kids = set->kids();
    expect(kids.size() == set->size(), "one kid per key");
    for (std::size_t i = 0; i < kids.size(); ++i) {
        expect(!kids[i].empty() && kids[i].size() <= stratus::jwks::max_kid_chars, "kid is 1-256 chars");
        expect(i == 0 || kids[i - 1] < kids[i], "kids sorted and distinct");
        expect(set->contains(kids[i]), "contains() finds every kid");
        // A signature of the wrong size, and one of the right size that is not a signature.
        expect(!set->verify_rs256(kids[i], "header.payload", "not a signature"), "garbage never verifies");
        expect(!set->verify_rs256(kids[i], "header.payload", std::string(256, '\x01')),
               "a made-up 2048-bit signature does not verify");
    }
    expect(!set->contains("") && !set->verify_rs256("", "a.b", "c"), "the empty kid is never a key");
    for (auto const& reason : set->skipped()) {
        expect(!reason.empty(), "every skipped key has a reason");
    }
    return 0;
}
