#pragma once

#include <filesystem>
#include <string>

#include "core/result.hpp"

namespace stratus {

/// Loads the local HMAC secret from `<data_dir>/jwt-secret`, creating it on
/// first use: 32 bytes from RAND_bytes, hex-encoded (64 chars) plus a newline,
/// written to a file created with O_EXCL and mode 0600, then fsync'ed. A
/// missing data_dir is created with mode 0700. If another process creates the
/// file at the same time, the winner's secret is read back.
///
/// Returns the 64 hex chars (the HMAC key text). Errors (errc::invalid_request,
/// with a message meant for the user): the path is not a regular file, the file
/// is readable or writable by group or others (fix: chmod 600), or its content
/// is not exactly 64 hex chars with an optional trailing newline. I/O failures
/// are errc::unavailable; a RAND_bytes failure is errc::internal.
[[nodiscard]] result<std::string> load_or_create_secret(std::filesystem::path const& data_dir);

/// Loads an existing secret file (the out-of-process `bootstrap` reads the one
/// its gateway created), with the same checks. A missing or incomplete file
/// -> errc::invalid_request.
[[nodiscard]] result<std::string> load_secret(std::filesystem::path const& file);

} // namespace stratus
