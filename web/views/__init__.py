"""Server-rendered pages for residents (web/views/<area>.py) and staff (web/views/console_<area>.py).

Views parse the form, call one service or selector, and render; business rules stay in the domain apps.
"""
