def view():
    """placeholder"""
