"""The signed-in customer's portal: pages and the public JSON API over one bill group."""
