#include "services/notification/domain/template.hpp"

#include "services/common/html.hpp"

#include <vector>

namespace tiketi::notification {
namespace {

using nlohmann::json;

struct Renderer {
  std::string_view src;
  std::string_view name;
  Escape escape;

  [[noreturn]] void fail(const std::string& what) const {
    std::string msg(name);
    msg.append(": ").append(what);
    throw TemplateError(msg);
  }

  // Innermost scope first.
  const json* lookup(const std::vector<const json*>& scopes, const std::string& key) const {
    for (auto it = scopes.rbegin(); it != scopes.rend(); ++it) {
      if ((*it)->is_object()) {
        auto f = (*it)->find(key);
        if (f != (*it)->end()) {
          return &*f;
        }
      }
    }
    return nullptr;
  }

  std::string scalar(const json& v, const std::string& key) const {
    if (v.is_string()) {
      return v.get<std::string>();
    }
    if (v.is_number_integer()) {
      return std::to_string(v.get<std::int64_t>());
    }
    if (v.is_number()) {
      return v.dump();
    }
    if (v.is_boolean()) {
      return v.get<bool>() ? "true" : "false";
    }
    fail("variable '" + key + "' is not a scalar");
  }

  static bool truthy(const json& v) {
    if (v.is_null()) {
      return false;
    }
    if (v.is_boolean()) {
      return v.get<bool>();
    }
    if (v.is_array()) {
      return !v.empty();
    }
    if (v.is_string()) {
      return !v.get<std::string>().empty();
    }
    return true;
  }

  // Renders src[pos, …) until {{/close}} (or the end when close is empty); returns the position
  // just past the closing tag.
  std::size_t render(std::size_t pos, const std::string& close, std::vector<const json*>& scopes,
                     std::string* out) const {
    while (pos < src.size()) {
      const std::size_t open = src.find("{{", pos);
      if (open == std::string_view::npos) {
        if (out != nullptr) {
          out->append(src.substr(pos));
        }
        pos = src.size();
        break;
      }
      if (out != nullptr) {
        out->append(src.substr(pos, open - pos));
      }
      const std::size_t end = src.find("}}", open + 2);
      if (end == std::string_view::npos) {
        fail("unterminated tag");
      }
      std::string tag(src.substr(open + 2, end - open - 2));
      // Trim spaces inside the braces: {{ name }} == {{name}}.
      while (!tag.empty() && tag.back() == ' ') {
        tag.pop_back();
      }
      std::size_t lead = 0;
      while (lead < tag.size() && tag[lead] == ' ') {
        ++lead;
      }
      tag.erase(0, lead);
      pos = end + 2;
      if (tag.empty()) {
        fail("empty tag");
      }
      const char kind = tag[0];
      if (kind == '!') {
        continue;  // comment
      }
      if (kind == '/') {
        if (tag.substr(1) != close) {
          fail("unexpected {{/" + tag.substr(1) + "}}");
        }
        return pos;
      }
      if (kind == '#' || kind == '^') {
        const std::string key = tag.substr(1);
        if (out == nullptr) {
          // Inside a hidden section only the structure matters: its names may belong to elements
          // that do not exist (an empty list).
          pos = render(pos, key, scopes, nullptr);
          continue;
        }
        const json* v = lookup(scopes, key);
        if (v == nullptr) {
          fail("missing variable '" + key + "'");
        }
        const bool on = truthy(*v);
        if (kind == '^' || !v->is_array()) {
          const bool show = kind == '^' ? !on : on;
          pos = render(pos, key, scopes, show ? out : nullptr);
          continue;
        }
        // Render the body once per element (and once with no output to find its end when empty).
        std::size_t after = pos;
        if (v->empty()) {
          after = render(pos, key, scopes, nullptr);
        }
        for (const auto& item : *v) {
          scopes.push_back(&item);
          after = render(pos, key, scopes, out);
          scopes.pop_back();
        }
        pos = after;
        continue;
      }
      if (out == nullptr) {
        continue;
      }
      const json* v = lookup(scopes, tag);
      if (v == nullptr) {
        fail("missing variable '" + tag + "'");
      }
      std::string text = scalar(*v, tag);
      out->append(escape == Escape::html ? common::html_escape(text) : text);
    }
    if (!close.empty()) {
      fail("unclosed section '" + close + "'");
    }
    return pos;
  }
};

}  // namespace

std::string render_template(std::string_view source, const nlohmann::json& vars, Escape escape,
                            std::string_view name) {
  Renderer r{source, name, escape};
  std::vector<const json*> scopes{&vars};
  std::string out;
  r.render(0, "", scopes, &out);
  return out;
}

}  // namespace tiketi::notification
