//! Where product images are served: `/media/<storage key>/<width>`, on the store's host.
//! Keys are content-addressed, so each URL's bytes never change (immutable caching).

/// Widths every uploaded image is rendered at.
pub const IMAGE_WIDTHS: [u32; 4] = [160, 480, 1024, 2048];

/// The URL of an image rendition, relative to the store's host.
pub fn image_url(storage_key: &str, width: u32) -> String {
    format!("/media/{storage_key}/{width}")
}
