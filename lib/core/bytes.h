// ironroot core: bounds-checked reading of untrusted little-endian binary data.
//
// Every read names the field it reads, so a failure says what was expected and at which file
// offset:  "offset 0x1c: field EventSize: needs 4 bytes, 2 left".
//
//   ByteReader r(bytes);
//   IRONROOT_ASSIGN_OR_RETURN(uint32_t pcr, r.u32le("PCRIndex"));
//   IRONROOT_ASSIGN_OR_RETURN(auto digest, r.take(20, "Digest"));
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"

namespace ironroot {

using Bytes = std::span<const uint8_t>;

// Formats "offset 0x1c: field EventSize: <what>" for errors about untrusted input.
Error field_error(uint64_t offset, std::string_view field, const std::string& what);

class ByteReader {
 public:
  // `base` is the offset of data[0] within the enclosing file, used only in error messages.
  explicit ByteReader(Bytes data, uint64_t base = 0) : data_(data), base_(base) {}

  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }
  uint64_t file_offset() const { return base_ + pos_; }
  bool empty() const { return pos_ == data_.size(); }
  Bytes rest() const { return data_.subspan(pos_); }

  Result<uint8_t> u8(std::string_view field) {
    if (remaining() < 1) return short_read(field, 1);
    return data_[pos_++];
  }
  Result<uint16_t> u16le(std::string_view field) {
    if (remaining() < 2) return short_read(field, 2);
    uint16_t v = load_le16(data_.data() + pos_);
    pos_ += 2;
    return v;
  }
  Result<uint32_t> u32le(std::string_view field) {
    if (remaining() < 4) return short_read(field, 4);
    uint32_t v = load_le32(data_.data() + pos_);
    pos_ += 4;
    return v;
  }
  Result<uint64_t> u64le(std::string_view field) {
    if (remaining() < 8) return short_read(field, 8);
    uint64_t v = load_le64(data_.data() + pos_);
    pos_ += 8;
    return v;
  }
  // A view of the next n bytes; never copies, never allocates from n.
  Result<Bytes> take(uint64_t n, std::string_view field) {
    if (n > remaining()) return short_read(field, n);
    Bytes out = data_.subspan(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return out;
  }
  Status skip(uint64_t n, std::string_view field) {
    if (n > remaining()) return short_read(field, n);
    pos_ += static_cast<size_t>(n);
    return {};
  }

  static uint16_t load_le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
  static uint32_t load_le32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return le(v);
  }
  static uint64_t load_le64(const uint8_t* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return le(v);
  }

 private:
  template <typename T>
  static T le(T v) {
    if constexpr (std::endian::native == std::endian::big) return byteswap(v);
    return v;
  }
  template <typename T>
  static T byteswap(T v) {
    T r = 0;
    for (size_t i = 0; i < sizeof(T); ++i) r = static_cast<T>((r << 8) | ((v >> (8 * i)) & 0xff));
    return r;
  }
  Error short_read(std::string_view field, uint64_t need) const;

  Bytes data_;
  uint64_t base_;
  size_t pos_ = 0;
};

}  // namespace ironroot
