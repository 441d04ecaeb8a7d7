"""The console's one script and one stylesheet, served from ``/static/`` (no build step, no inline code:
the Content-Security-Policy allows scripts and styles from the console itself only)."""

from __future__ import annotations

# Filters apply as soon as one changes; everything else works without JavaScript.
CONSOLE_JS = """\
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const el of document.querySelectorAll(".autosubmit")) {
    el.addEventListener("change", () => el.form.submit());
  }
  // A second click while an action is in flight would only be refused by the alarm's state machine;
  // mark the form busy rather than disabling its buttons (a disabled submitter is not sent).
  for (const form of document.querySelectorAll("form.actions")) {
    form.addEventListener("submit", () => form.classList.add("busy"));
  }
});
"""

CONSOLE_CSS = """\
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1b1f23; }
header { background: #24292f; color: #fff; padding: 8px 16px; display: flex; gap: 16px; align-items: center; }
header nav a { color: #c9d1d9; margin-right: 12px; text-decoration: none; }
header .stage { color: #8b949e; }
main { padding: 8px 16px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border-bottom: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
.state { padding: 1px 6px; border-radius: 8px; background: #eaeef2; font-weight: 600; }
.state-active { background: #ffebe9; color: #a40e26; }
.state-latched { background: #fff1e5; color: #953800; }
.state-acknowledged { background: #ddf4ff; color: #0550ae; }
.state-snoozed, .state-disabled { background: #eaeef2; color: #57606a; }
.state-pending { background: #fff8c5; color: #7d4e00; }
.flash { background: #dafbe1; padding: 6px 10px; }
.error { background: #ffebe9; padding: 6px 10px; }
.empty, .note, .summary { color: #57606a; }
form.actions { display: flex; gap: 4px; flex-wrap: wrap; }
form.actions.busy { opacity: 0.5; }
form.filters label { margin-right: 8px; }
dl.context, dl.health { display: grid; grid-template-columns: max-content auto; gap: 2px 12px; }
dt { font-weight: 600; }
"""
