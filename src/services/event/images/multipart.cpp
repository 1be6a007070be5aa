#include "services/event/images/multipart.hpp"

#include <algorithm>
#include <cctype>

namespace tiketi::event {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// RFC 2046 bchars (bcharsnospace plus space).
bool is_bchar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) {
    return true;
  }
  return std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

bool is_token_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > 32 && u < 127 && std::string_view("()<>@,;:\\\"/[]?={}").find(c) == std::string_view::npos;
}

// Parameters after the first ';' of a header value: name=token or name="quoted \" string".
// Returns false on a syntax error. Names are lower-cased.
bool parse_params(std::string_view s, std::vector<std::pair<std::string, std::string>>& out) {
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == ';')) {
      ++i;
    }
    if (i >= s.size()) {
      break;
    }
    std::size_t start = i;
    while (i < s.size() && is_token_char(s[i])) {
      ++i;
    }
    std::string name(s.substr(start, i - start));
    if (name.empty() || i >= s.size() || s[i] != '=') {
      return false;
    }
    ++i;
    std::string value;
    if (i < s.size() && s[i] == '"') {
      ++i;
      bool closed = false;
      while (i < s.size()) {
        char c = s[i++];
        if (c == '\\' && i < s.size()) {
          value.push_back(s[i++]);
        } else if (c == '"') {
          closed = true;
          break;
        } else {
          value.push_back(c);
        }
      }
      if (!closed) {
        return false;
      }
    } else {
      start = i;
      while (i < s.size() && is_token_char(s[i])) {
        ++i;
      }
      value = std::string(s.substr(start, i - start));
      if (value.empty()) {
        return false;
      }
    }
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) {
      ++i;
    }
    if (i < s.size() && s[i] != ';') {
      return false;
    }
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    out.emplace_back(std::move(name), std::move(value));
  }
  return true;
}

}  // namespace

std::string multipart_boundary(std::string_view content_type) {
  const auto semi = content_type.find(';');
  const auto type = trim(content_type.substr(0, semi));
  if (!iequals(type, "multipart/form-data")) {
    throw MultipartError("Content-Type must be multipart/form-data");
  }
  if (semi == std::string_view::npos) {
    throw MultipartError("multipart/form-data without a boundary parameter");
  }
  std::vector<std::pair<std::string, std::string>> params;
  if (!parse_params(content_type.substr(semi + 1), params)) {
    throw MultipartError("malformed Content-Type parameters");
  }
  std::optional<std::string> boundary;
  for (auto& [k, v] : params) {
    if (k == "boundary") {
      if (boundary) {
        throw MultipartError("more than one boundary parameter");
      }
      boundary = v;
    }
  }
  if (!boundary) {
    throw MultipartError("multipart/form-data without a boundary parameter");
  }
  if (boundary->empty() || boundary->size() > 70 || boundary->back() == ' ' ||
      !std::all_of(boundary->begin(), boundary->end(), is_bchar)) {
    throw MultipartError("malformed multipart boundary");
  }
  return *boundary;
}

std::vector<MultipartPart> parse_multipart(std::string_view body, std::string_view boundary,
                                           MultipartLimits limits) {
  const std::string delimiter = "--" + std::string(boundary);
  const std::string next_delimiter = "\r\n" + delimiter;
  if (!body.starts_with(delimiter)) {
    throw MultipartError("the body does not start with the multipart boundary");
  }
  std::size_t pos = delimiter.size();
  std::vector<MultipartPart> parts;
  for (;;) {
    // After a delimiter: "--" closes the body; otherwise optional padding and CRLF open a part.
    if (body.substr(pos, 2) == "--") {
      if (parts.empty()) {
        throw MultipartError("multipart body without parts");
      }
      return parts;  // the epilogue, if any, is ignored (RFC 2046)
    }
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) {
      ++pos;
    }
    if (body.substr(pos, 2) != "\r\n") {
      throw MultipartError("truncated or malformed multipart body (bad delimiter line)");
    }
    pos += 2;
    if (parts.size() >= limits.max_parts) {
      throw MultipartError("too many parts in the multipart body");
    }
    const auto headers_end = body.find("\r\n\r\n", pos);
    std::size_t header_len = 0;
    if (body.substr(pos, 2) == "\r\n") {
      header_len = 0;  // no headers at all: refused below (no Content-Disposition)
    } else if (headers_end == std::string_view::npos) {
      throw MultipartError("truncated multipart body (part headers never end)");
    } else {
      header_len = headers_end + 2 - pos;  // includes the last header's CRLF
    }
    if (header_len > limits.max_header_bytes) {
      throw MultipartError("multipart part headers are too large");
    }
    MultipartPart part;
    bool disposition = false;
    std::string_view headers = body.substr(pos, header_len);
    while (!headers.empty()) {
      const auto eol = headers.find("\r\n");
      std::string_view line = headers.substr(0, eol);
      headers.remove_prefix(eol + 2);
      const auto colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0) {
        throw MultipartError("malformed multipart part header");
      }
      const auto name = line.substr(0, colon);
      const auto value = trim(line.substr(colon + 1));
      if (iequals(name, "content-disposition")) {
        if (disposition) {
          throw MultipartError("more than one Content-Disposition in a part");
        }
        disposition = true;
        const auto semi = value.find(';');
        if (!iequals(trim(value.substr(0, semi)), "form-data")) {
          throw MultipartError("part Content-Disposition must be form-data");
        }
        std::vector<std::pair<std::string, std::string>> params;
        if (semi != std::string_view::npos && !parse_params(value.substr(semi + 1), params)) {
          throw MultipartError("malformed Content-Disposition parameters");
        }
        bool has_name = false;
        for (auto& [k, v] : params) {
          if (k == "name") {
            part.name = v;
            has_name = true;
          } else if (k == "filename" || k == "filename*") {
            if (part.filename) {
              throw MultipartError("more than one filename in a part");
            }
            part.filename = v;
          }
        }
        if (!has_name) {
          throw MultipartError("part Content-Disposition without a name");
        }
      } else if (iequals(name, "content-type")) {
        part.content_type = std::string(value);
      } else if (iequals(name, "content-transfer-encoding")) {
        // RFC 7578 4.7: deprecated; only the identity encodings mean what they say.
        if (!iequals(value, "binary") && !iequals(value, "8bit") && !iequals(value, "7bit")) {
          throw MultipartError("unsupported Content-Transfer-Encoding in a part");
        }
      }
    }
    if (!disposition) {
      throw MultipartError("part without Content-Disposition: form-data");
    }
    pos += header_len + 2;  // the blank line
    const auto end = body.find(next_delimiter, pos);
    if (end == std::string_view::npos) {
      throw MultipartError("truncated multipart body (no closing boundary)");
    }
    part.data = body.substr(pos, end - pos);
    parts.push_back(std::move(part));
    pos = end + next_delimiter.size();
  }
}

}  // namespace tiketi::event
