"""pyhss: a Home Subscriber Server for LTE/IMS on Twisted."""
