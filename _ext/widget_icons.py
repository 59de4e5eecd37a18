"""Keep the theme's Font Awesome from breaking widget icons on every page.

pydata-sphinx-theme loads Font Awesome's JavaScript, which replaces each ``<i class="fa …">``
with an ``<svg>`` and keeps watching the page for new ones. ipywidgets' ``Play`` button looks
its ``<i>`` icon up again on every change; once the icon is gone it throws in the console and
the demo stops. Telling Font Awesome to *nest* the svg inside the ``<i>`` (and not to watch
for changes) keeps the element the widget needs. The setting must exist before Font Awesome
runs; the theme loads it with ``defer``, so an ordinary script in the head comes first.
"""

CONFIG = (
    "window.FontAwesomeConfig = Object.assign(window.FontAwesomeConfig || {}, "
    '{autoReplaceSvg: "nest", observeMutations: false});'
)


def setup(app):
    app.add_js_file(None, body=CONFIG, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
