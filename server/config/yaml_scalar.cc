#include "server/config/yaml_scalar.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace runner::config {
namespace {

bool IsOneOf(absl::string_view text, std::initializer_list<absl::string_view> words) {
  for (absl::string_view word : words) {
    if (text == word) return true;
  }
  return false;
}

bool IsNullWord(absl::string_view text) { return IsOneOf(text, {"", "~", "null", "Null", "NULL"}); }

std::optional<double> SpecialFloat(absl::string_view text) {
  if (IsOneOf(text, {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"})) {
    return std::numeric_limits<double>::infinity();
  }
  if (IsOneOf(text, {"-.inf", "-.Inf", "-.INF"})) return -std::numeric_limits<double>::infinity();
  if (IsOneOf(text, {".nan", ".NaN", ".NAN"})) return std::numeric_limits<double>::quiet_NaN();
  return std::nullopt;
}

int DigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  return 99;
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool LooksLikeFloat(absl::string_view s) {
  size_t i = 0;
  auto digits = [&]() {
    size_t start = i;
    while (i < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[i]))) ++i;
    return i - start;
  };
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (digits() == 0) return false;
  } else {
    if (digits() == 0) return false;
    if (i < s.size() && s[i] == '.') {
      ++i;
      digits();
    }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == s.size();
}

// Reads between `min_width` and `max_width` decimal digits at s[*i].
std::optional<int> ReadNumber(absl::string_view s, size_t* i, size_t min_width, size_t max_width) {
  int value = 0;
  size_t n = 0;
  while (n < max_width && *i < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[*i]))) {
    value = value * 10 + (s[*i] - '0');
    ++*i;
    ++n;
  }
  if (n < min_width) return std::nullopt;
  return value;
}

bool Expect(absl::string_view s, size_t* i, char c) {
  if (*i >= s.size() || s[*i] != c) return false;
  ++*i;
  return true;
}

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

struct Timestamp {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  int nanos = 0;
  int offset_minutes = 0;
};

// The time part after the date and the 'T', 't' or ' ' separator.
bool ParseTimeOfDay(absl::string_view s, size_t* i, bool with_zone, Timestamp* t) {
  auto hour = ReadNumber(s, i, 1, 2);
  if (!hour || !Expect(s, i, ':')) return false;
  auto minute = ReadNumber(s, i, 1, 2);
  if (!minute || !Expect(s, i, ':')) return false;
  auto second = ReadNumber(s, i, 1, 2);
  if (!second || *hour > 23 || *minute > 59 || *second > 59) return false;
  t->hour = *hour;
  t->minute = *minute;
  t->second = *second;

  // Digits beyond nanoseconds are dropped, not rounded.
  if (*i + 1 < s.size() && (s[*i] == '.' || s[*i] == ',') &&
      absl::ascii_isdigit(static_cast<unsigned char>(s[*i + 1]))) {
    ++*i;
    int scale = 100000000;
    while (*i < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[*i]))) {
      t->nanos += (s[*i] - '0') * scale;
      scale /= 10;
      ++*i;
    }
  }
  if (!with_zone) return *i == s.size();

  if (Expect(s, i, 'Z')) return *i == s.size();
  if (*i >= s.size() || (s[*i] != '+' && s[*i] != '-')) return false;
  int sign = s[*i] == '-' ? -1 : 1;
  ++*i;
  auto zone_hours = ReadNumber(s, i, 2, 2);
  if (!zone_hours || !Expect(s, i, ':')) return false;
  auto zone_minutes = ReadNumber(s, i, 2, 2);
  if (!zone_minutes || *zone_hours > 24 || *zone_minutes > 60) return false;
  t->offset_minutes = sign * (*zone_hours * 60 + *zone_minutes);
  return *i == s.size();
}

std::optional<Timestamp> ParseTimestamp(absl::string_view s) {
  Timestamp t;
  size_t i = 0;
  auto year = ReadNumber(s, &i, 4, 4);
  if (!year || !Expect(s, &i, '-')) return std::nullopt;
  auto month = ReadNumber(s, &i, 1, 2);
  if (!month || !Expect(s, &i, '-')) return std::nullopt;
  auto day = ReadNumber(s, &i, 1, 2);
  if (!day || *month < 1 || *month > 12 || *day < 1 || *day > DaysInMonth(*year, *month)) {
    return std::nullopt;
  }
  t.year = *year;
  t.month = *month;
  t.day = *day;
  if (i == s.size()) return t;

  char separator = s[i++];
  if (separator != 'T' && separator != 't' && separator != ' ') return std::nullopt;
  if (!ParseTimeOfDay(s, &i, /*with_zone=*/separator != ' ', &t)) return std::nullopt;
  return t;
}

// The length of the valid UTF-8 sequence at text[i], or 0 when there is none.
size_t Utf8SequenceLength(absl::string_view text, size_t i) {
  const auto byte = static_cast<unsigned char>(text[i]);
  if (byte < 0x80) return 1;
  size_t length = 0;
  uint32_t min_code_point = 0;
  if ((byte & 0xE0) == 0xC0) {
    length = 2;
    min_code_point = 0x80;
  } else if ((byte & 0xF0) == 0xE0) {
    length = 3;
    min_code_point = 0x800;
  } else if ((byte & 0xF8) == 0xF0) {
    length = 4;
    min_code_point = 0x10000;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;

  uint32_t code_point = byte & (0x7F >> length);
  for (size_t k = 1; k < length; ++k) {
    const auto next = static_cast<unsigned char>(text[i + k]);
    if ((next & 0xC0) != 0x80) return 0;
    code_point = (code_point << 6) | (next & 0x3F);
  }
  // Overlong forms, UTF-16 surrogates and values past U+10FFFF are not valid UTF-8 either.
  if (code_point < min_code_point || code_point > 0x10FFFF ||
      (code_point >= 0xD800 && code_point <= 0xDFFF)) {
    return 0;
  }
  return length;
}

}  // namespace

ScalarKind ResolvePlainScalar(absl::string_view text) {
  if (IsNullWord(text)) return ScalarKind::kNull;
  if (ParseCoreBool(text)) return ScalarKind::kBool;
  if (SpecialFloat(text)) return ScalarKind::kFloat;

  // Like yaml.v3, only text that starts like a number is tried as one.
  char first = text[0];
  if (absl::ascii_isdigit(static_cast<unsigned char>(first)) || first == '+' || first == '-') {
    if (ParseTimestamp(text)) return ScalarKind::kTimestamp;
    if (ParseYamlInteger(text)) return ScalarKind::kInt;
    if (ParseYamlFloat(text)) return ScalarKind::kFloat;
  } else if (first == '.' && ParseYamlFloat(text)) {
    return ScalarKind::kFloat;
  }
  return ScalarKind::kString;
}

std::optional<bool> ParseCoreBool(absl::string_view text) {
  if (IsOneOf(text, {"true", "True", "TRUE"})) return true;
  if (IsOneOf(text, {"false", "False", "FALSE"})) return false;
  return std::nullopt;
}

std::optional<bool> ParseBoolWord(absl::string_view text) {
  if (auto core = ParseCoreBool(text)) return core;
  if (IsOneOf(text, {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON"})) return true;
  if (IsOneOf(text, {"n", "N", "no", "No", "NO", "off", "Off", "OFF"})) return false;
  return std::nullopt;
}

std::optional<YamlInteger> ParseYamlInteger(absl::string_view text) {
  const std::string plain = absl::StrReplaceAll(text, {{"_", ""}});
  absl::string_view s = plain;
  bool has_sign = false;
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    has_sign = true;
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;

  // A leading 0 means octal, as Go's strconv reads it with base 0.
  int base = 10;
  if (s[0] == '0') {
    char marker = s.size() >= 3 ? absl::ascii_tolower(static_cast<unsigned char>(s[1])) : '\0';
    if (marker == 'x' || marker == 'o' || marker == 'b') {
      base = marker == 'x' ? 16 : marker == 'o' ? 8 : 2;
      s.remove_prefix(2);
    } else {
      base = 8;
      s.remove_prefix(1);
    }
  }

  uint64_t magnitude = 0;
  for (char c : s) {
    int digit = DigitValue(c);
    if (digit >= base) return std::nullopt;
    if (magnitude > (std::numeric_limits<uint64_t>::max() - digit) / base) return std::nullopt;
    magnitude = magnitude * base + digit;
  }

  YamlInteger result;
  constexpr uint64_t kMaxSigned = std::numeric_limits<int64_t>::max();
  if (negative) {
    if (magnitude > kMaxSigned + 1) return std::nullopt;
    result.signed_value = magnitude == kMaxSigned + 1 ? std::numeric_limits<int64_t>::min()
                                                      : -static_cast<int64_t>(magnitude);
  } else if (magnitude <= kMaxSigned) {
    result.signed_value = static_cast<int64_t>(magnitude);
  } else if (!has_sign) {
    result.is_unsigned = true;
    result.unsigned_value = magnitude;
  } else {
    return std::nullopt;
  }
  return result;
}

std::optional<double> ParseYamlFloat(absl::string_view text) {
  if (auto special = SpecialFloat(text)) return special;
  if (!text.empty() && text[0] == '.' && absl::StrContains(text, '_')) return std::nullopt;
  const std::string plain = absl::StrReplaceAll(text, {{"_", ""}});
  if (!LooksLikeFloat(plain)) return std::nullopt;
  double value = 0;
  if (!absl::SimpleAtod(plain, &value) || std::isinf(value)) return std::nullopt;
  return value;
}

std::optional<std::string> TimestampToRfc3339(absl::string_view text) {
  std::optional<Timestamp> t = ParseTimestamp(text);
  if (!t) return std::nullopt;

  std::string out = absl::StrFormat("%04d-%02d-%02dT%02d:%02d:%02d", t->year, t->month, t->day,
                                    t->hour, t->minute, t->second);
  if (t->nanos != 0) {
    std::string fraction = absl::StrFormat("%09d", t->nanos);
    fraction.erase(fraction.find_last_not_of('0') + 1);
    absl::StrAppend(&out, ".", fraction);
  }
  if (t->offset_minutes == 0) {
    absl::StrAppend(&out, "Z");
  } else {
    int minutes = t->offset_minutes < 0 ? -t->offset_minutes : t->offset_minutes;
    absl::StrAppend(&out, absl::StrFormat("%c%02d:%02d", t->offset_minutes < 0 ? '-' : '+',
                                          minutes / 60, minutes % 60));
  }
  return out;
}

std::optional<std::string> DecodeBase64(absl::string_view text) {
  std::string compact;
  compact.reserve(text.size());
  for (char c : text) {
    if (!absl::ascii_isspace(static_cast<unsigned char>(c))) compact.push_back(c);
  }
  std::string decoded;
  if (!absl::Base64Unescape(compact, &decoded)) return std::nullopt;
  return decoded;
}

std::optional<size_t> FindInvalidUtf8(absl::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const size_t length = Utf8SequenceLength(text, i);
    if (length == 0) return i;
    i += length;
  }
  return std::nullopt;
}

std::string ToValidUtf8(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t length = Utf8SequenceLength(text, i);
    if (length == 0) {
      out.append("\xEF\xBF\xBD");
      ++i;
    } else {
      out.append(text.data() + i, length);
      i += length;
    }
  }
  return out;
}

}  // namespace runner::config
