"""Work around Sphinx 7.4 writing some inline <script> blocks twice.

Inline scripts that an extension registers after the builder starts (sphinx-thebe's
``const THEBE_JS_URL``, sphinx-togglebutton's selector) are copied into the page's script list
a second time with ``filename=''`` instead of ``None``. The repeated ``const`` then throws
"Identifier 'THEBE_JS_URL' has already been declared" in every reader's console.
"""


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for js in context.get("script_files", []):
        key = (js.filename or "", tuple(sorted((k, str(v)) for k, v in js.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    context["script_files"][:] = unique


def setup(app):
    app.connect("html-page-context", _dedupe_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
