"""The object model: objects as typed attribute maps, and the factories that build them."""
