#pragma once
// Email templates: one folder per template, one file per language and part:
//   <dir>/<template>/<lang>.subject.txt, <lang>.body.txt, <lang>.body.html
// The defaults are compiled in (domain/default_templates.cpp, generated from templates/notification
// in the repository), so the binary works from any directory. An operator overrides any file without
// rebuilding by pointing `notification.templates_dir` at a folder with the same layout; files absent
// there fall back to the compiled-in default.
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace tiketi::notification {

struct EmbeddedTemplate {
  const char* path;  // "<template>/<lang>.<part>"
  const char* text;
};
const std::vector<EmbeddedTemplate>& embedded_templates();

struct RenderedEmail {
  std::string subject;
  std::string text;
  std::string html;
};

class TemplateSet {
 public:
  // Compiled-in defaults overlaid with the files under `override_dir` (when set). Throws
  // std::invalid_argument when the directory is set but missing.
  static TemplateSet load(const std::optional<std::filesystem::path>& override_dir);

  // Renders subject, text and HTML for `language` ("ko"/"en"; falls back to "en" when that
  // language has no file). The subject is also available to the bodies as {{subject}}. Throws
  // TemplateError on a missing template or variable.
  RenderedEmail render(const std::string& name, const std::string& language, nlohmann::json vars) const;

  bool has(const std::string& name) const;
  std::size_t overridden() const { return overridden_; }

 private:
  const std::string& part(const std::string& name, const std::string& language,
                          const std::string& part) const;
  std::map<std::string, std::string> files_;  // "<template>/<lang>.<part>" -> text
  std::size_t overridden_ = 0;
};

}  // namespace tiketi::notification
