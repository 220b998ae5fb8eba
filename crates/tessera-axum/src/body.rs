//! Reading Tessera's answers with a bound: a JWKS or a feed page larger than Tessera ever sends
//! is refused as soon as it passes the bound (or announces a larger length), never buffered whole.

/// The body of `res`, at most `limit` bytes; `what` names it in the error.
pub(crate) async fn read_limited(
    mut res: reqwest::Response,
    limit: usize,
    what: &str,
) -> Result<Vec<u8>, String> {
    let too_big = || format!("{what}: larger than {limit} bytes, too big to be Tessera's");
    if res.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) = res
        .chunk()
        .await
        .map_err(|e| format!("{what}: {}", e.without_url()))?
    {
        if body.len() + chunk.len() > limit {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
