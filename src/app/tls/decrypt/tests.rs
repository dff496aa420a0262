//! Record decryption against published and generated vectors.
