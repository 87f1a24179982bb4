//! The new API's callbacks: decode, verify, validate, dispatch, sign.
