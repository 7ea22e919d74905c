"""The Cryptoki core: Module -> Slot -> Token -> Session -> operations (PKCS #11 v2.40 s5)."""
