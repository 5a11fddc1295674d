#pragma once

// Namespace aliases only (Beast chat-multi's convention).
#include <boost/beast.hpp>

namespace stratus::loadgen {
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
} // namespace stratus::loadgen
