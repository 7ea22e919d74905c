"""TPM 2.0 ports: the ``tpm2`` crypto port (device keys generated and used inside the TPM),
the ``tpm2`` entropy source (TPM2_GetRandom), and the connection they share.

tpm2-pytss (``pip install 'tokenport[tpm2]'``, needs the TSS libraries: Debian's
libtss2-dev) is imported only when a TPM port is opened.
"""
