#pragma once

// Namespace aliases only (Beast chat-multi's convention), so no other file writes boost::asio::.
#include <boost/asio.hpp>

namespace stratus::loadgen {
namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;
} // namespace stratus::loadgen
