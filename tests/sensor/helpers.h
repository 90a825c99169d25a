// Shared by the sensor tests: addresses written as text.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>

#include "sensor/packet.h"

namespace ironroot::sensor::testing {

// "10.0.0.1" or "2001:db8::1" as an IpAddr; a typo fails the test that wrote it.
inline IpAddr ip(const std::string& s) {
  IpAddr a;
  if (::inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = 4;
  } else {
    EXPECT_EQ(::inet_pton(AF_INET6, s.c_str(), a.bytes.data()), 1) << s;
    a.family = 6;
  }
  return a;
}

}  // namespace ironroot::sensor::testing
