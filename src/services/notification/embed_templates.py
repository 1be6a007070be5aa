#!/usr/bin/env python3
"""Regenerates domain/default_templates.cpp (the compiled-in defaults) from templates/notification.

The files under templates/notification are the source of truth; operators copy and edit them and
point `notification.templates_dir` at the copy. Run this after changing a default template; the test
Templates.TemplatesOnDiskMatchEmbedded fails until you do.
"""
import pathlib

here = pathlib.Path(__file__).resolve().parent
root = here.parents[2] / "templates" / "notification"
entries = []
for f in sorted(root.rglob("*")):
    if f.is_file():
        text = f.read_text(encoding="utf-8")
        assert ')~~"' not in text, f
        entries.append(f'      {{"{f.relative_to(root).as_posix()}", R"~~({text})~~"}},')
out = [
    "// Generated from templates/notification/** by src/services/notification/embed_templates.py;",
    "// the test Templates.TemplatesOnDiskMatchEmbedded fails when the files and this copy differ.",
    '#include "services/notification/domain/templates.hpp"',
    "",
    "namespace tiketi::notification {",
    "",
    "const std::vector<EmbeddedTemplate>& embedded_templates() {",
    "  static const std::vector<EmbeddedTemplate> kAll{",
    *entries,
    "  };",
    "  return kAll;",
    "}",
    "",
    "}  // namespace tiketi::notification",
    "",
]
(here / "domain" / "default_templates.cpp").write_text("\n".join(out), encoding="utf-8")
