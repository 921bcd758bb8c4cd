"""One module per tab of the app: each has its handlers class (one public method per API endpoint) and a `build()`."""
