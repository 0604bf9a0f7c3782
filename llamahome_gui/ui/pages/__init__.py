"""Pages of the main window. Each page module ``<key>_page.py`` exposes
``create_page(ctx: AppContext) -> QWidget``; ``llamahome_gui.app`` plugs it in."""
