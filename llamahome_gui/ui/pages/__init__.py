"""Pages of the main window. Each page module ``<key>_page.py`` exposes
``create_page(ctx: AppContext) -> QWidget`` and is listed, one line, in
``llamahome_gui.app.PAGES``; the page host builds it on its first visit."""
