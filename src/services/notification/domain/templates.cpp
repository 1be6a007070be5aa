#include "services/notification/domain/templates.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "services/notification/domain/template.hpp"

namespace tiketi::notification {

TemplateSet TemplateSet::load(const std::optional<std::filesystem::path>& override_dir) {
  TemplateSet set;
  for (const auto& t : embedded_templates()) {
    set.files_[t.path] = t.text;
  }
  if (!override_dir) {
    return set;
  }
  namespace fs = std::filesystem;
  if (!fs::is_directory(*override_dir)) {
    throw std::invalid_argument("setting notification.templates_dir: " + override_dir->string() +
                                " is not a directory");
  }
  for (const auto& entry : fs::recursive_directory_iterator(*override_dir)) {
    if (!entry.is_regular_file()) {
      continue;
    }
    const std::string rel = fs::relative(entry.path(), *override_dir).generic_string();
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    set.files_[rel] = text.str();
    ++set.overridden_;
  }
  return set;
}

bool TemplateSet::has(const std::string& name) const {
  return files_.count(name + "/en.subject.txt") > 0 || files_.count(name + "/ko.subject.txt") > 0;
}

const std::string& TemplateSet::part(const std::string& name, const std::string& language,
                                     const std::string& part) const {
  std::string key = name;
  key.append("/").append(language).append(".").append(part);
  auto it = files_.find(key);
  if (it == files_.end()) {
    key = name;
    key.append("/en.").append(part);
    it = files_.find(key);
  }
  if (it == files_.end()) {
    throw TemplateError("no template " + name + "/" + language + "." + part);
  }
  return it->second;
}

RenderedEmail TemplateSet::render(const std::string& name, const std::string& language,
                                  nlohmann::json vars) const {
  RenderedEmail out;
  const std::string base = name + "/" + language;
  out.subject =
      render_template(part(name, language, "subject.txt"), vars, Escape::none, base + ".subject.txt");
  // A subject is one line; a newline in it would inject headers.
  while (!out.subject.empty() && (out.subject.back() == '\n' || out.subject.back() == '\r')) {
    out.subject.pop_back();
  }
  for (char& c : out.subject) {
    if (c == '\n' || c == '\r') {
      c = ' ';
    }
  }
  vars["subject"] = out.subject;
  out.text = render_template(part(name, language, "body.txt"), vars, Escape::none, base + ".body.txt");
  out.html = render_template(part(name, language, "body.html"), vars, Escape::html, base + ".body.html");
  return out;
}

}  // namespace tiketi::notification
