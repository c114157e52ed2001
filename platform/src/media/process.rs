//! Turning an uploaded file into renditions: the type is read from the content, the pixel
//! count from the header before anything is decoded, and each width is re-encoded as JPEG.

use std::io::Cursor;

use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder as _, ImageFormat, ImageReader, Limits, RgbImage};
use sha2::{Digest as _, Sha256};

use crate::media_urls::IMAGE_WIDTHS;

/// Most pixels an image may have (40 megapixels).
pub const MAX_PIXELS: u64 = 40_000_000;
/// Longest side an image may have, in pixels.
pub const MAX_SIDE: u32 = 10_000;
/// JPEG quality of the renditions: photos look right, files stay small.
const JPEG_QUALITY: u8 = 82;
/// Most memory a decoder may allocate (a 40-megapixel 16-bit RGBA image is 320 MB).
const MAX_DECODER_ALLOC: u64 = 512 * 1024 * 1024;
/// MIME type of every rendition.
pub const RENDITION_CONTENT_TYPE: &str = "image/jpeg";
/// File extension of every rendition in the object store.
pub const RENDITION_EXTENSION: &str = "jpg";

/// Why an upload was refused. Each message completes "image: ..." for the merchant.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// No file was chosen, or it was empty.
    #[error("choose an image file to upload")]
    Missing,
    /// The body is over the configured byte limit.
    #[error("larger than {limit_mb} MB")]
    TooLarge {
        /// The limit, in megabytes.
        limit_mb: u64,
    },
    /// The content is not one of the accepted formats (whatever the file is called).
    #[error("the file is not a JPEG, PNG, WebP or GIF image")]
    NotAnImage,
    /// The header declares more pixels than [`MAX_PIXELS`].
    #[error("{width}×{height} pixels is more than the {}-megapixel limit", MAX_PIXELS / 1_000_000)]
    TooManyPixels {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
    },
    /// A side is longer than [`MAX_SIDE`].
    #[error("{width}×{height} pixels: each side may be at most {MAX_SIDE} pixels")]
    SideTooLong {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
    },
    /// The file starts like an image of this format but cannot be decoded.
    #[error("the file could not be read as a {format} image (it may be damaged)")]
    Unreadable {
        /// The format its first bytes announce.
        format: &'static str,
    },
    /// Anything else: not the merchant's fault.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// An upload after checking and resizing.
#[derive(Debug)]
pub struct Processed {
    /// SHA-256 of the uploaded bytes, lowercase hex: the content address.
    pub content_hash: String,
    /// Width of the original as displayed (after EXIF rotation), in pixels.
    pub width: u32,
    /// Height of the original as displayed, in pixels.
    pub height: u32,
    /// `(width slot, JPEG bytes)`, smallest first, one for each of [`slots_for`] the
    /// original's width; the largest holds the original's own size. Nothing is ever scaled
    /// up.
    pub renditions: Vec<(u32, Vec<u8>)>,
}

fn format_name(format: ImageFormat) -> Option<&'static str> {
    match format {
        ImageFormat::Jpeg => Some("JPEG"),
        ImageFormat::Png => Some("PNG"),
        ImageFormat::WebP => Some("WebP"),
        ImageFormat::Gif => Some("GIF"),
        _ => None,
    }
}

/// Refuses dimensions over the limits; runs on the header, before any pixel is decoded.
pub fn check_dimensions(width: u32, height: u32) -> Result<(), UploadError> {
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(UploadError::TooManyPixels { width, height });
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(UploadError::SideTooLong { width, height });
    }
    Ok(())
}

/// Checks, decodes, resizes and encodes an upload. CPU-bound: call it off the async runtime.
pub fn process(bytes: &[u8]) -> Result<Processed, UploadError> {
    if bytes.is_empty() {
        return Err(UploadError::Missing);
    }
    let format = image::guess_format(bytes).map_err(|_| UploadError::NotAnImage)?;
    let name = format_name(format).ok_or(UploadError::NotAnImage)?;
    let unreadable = |_| UploadError::Unreadable { format: name };

    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODER_ALLOC);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits.clone());
    // Making the decoder reads only the header: a decompression bomb declares its size there.
    let mut decoder = reader.into_decoder().map_err(unreadable)?;
    let (raw_width, raw_height) = decoder.dimensions();
    check_dimensions(raw_width, raw_height)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.reserve(decoder.total_bytes()).map_err(unreadable)?;
    decoder.set_limits(limits).map_err(unreadable)?;
    let mut decoded = DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    decoded.apply_orientation(orientation);

    let image = flatten(decoded);
    let (width, height) = image.dimensions();
    Ok(Processed {
        content_hash: hex::encode(Sha256::digest(bytes)),
        width,
        height,
        renditions: renditions(image)?,
    })
}

/// RGB for JPEG: transparent areas become white (as they look on a white page).
fn flatten(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    let mut rgb = RgbImage::new(rgba.width(), rgba.height());
    for (out, px) in rgb.pixels_mut().zip(rgba.pixels()) {
        let alpha = u32::from(px[3]);
        for c in 0..3 {
            let blended = (u32::from(px[c]) * alpha + 255 * (255 - alpha) + 127) / 255;
            out[c] = blended as u8;
        }
    }
    rgb
}

/// The width slots an image of `width` pixels is stored at: every slot of [`IMAGE_WIDTHS`]
/// not wider than the original, and the next one up holding the original at its own size
/// (so the full picture is always kept, and nothing is ever scaled up).
pub fn slots_for(width: u32) -> Vec<u32> {
    let mut slots: Vec<u32> = IMAGE_WIDTHS.into_iter().filter(|w| *w <= width).collect();
    if slots.last() != Some(&width)
        && let Some(next) = IMAGE_WIDTHS.into_iter().find(|w| *w > width)
    {
        slots.push(next);
    }
    slots
}

fn renditions(original: RgbImage) -> Result<Vec<(u32, Vec<u8>)>, UploadError> {
    let (width, height) = original.dimensions();
    let mut out = Vec::new();
    // Largest first, each made from the one before: a fraction of the work of resizing the
    // original every time, with no visible loss since every step at least halves. (Through
    // `DynamicImage`, whose methods are compiled, and optimised, inside the image crate.)
    let mut source = DynamicImage::ImageRgb8(original);
    for slot in slots_for(width).into_iter().rev() {
        let w = slot.min(width);
        if w != source.width() {
            let h = ((u64::from(height) * u64::from(w) + u64::from(width) / 2) / u64::from(width))
                .max(1) as u32;
            source = source.resize_exact(w, h, FilterType::Lanczos3);
        }
        out.push((slot, encode_jpeg(&source)?));
    }
    out.reverse();
    Ok(out)
}

fn encode_jpeg(image: &DynamicImage) -> Result<Vec<u8>, UploadError> {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY)
        .encode(
            image.as_bytes(),
            image.width(),
            image.height(),
            image.color().into(),
        )
        .map_err(|e| UploadError::Internal(anyhow::anyhow!("encoding a JPEG rendition: {e}")))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbaImage::from_pixel(width, height, image::Rgba([200, 30, 30, 128]));
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn widths_never_exceed_the_original_and_one_always_exists() {
        assert_eq!(slots_for(100), [160]);
        assert_eq!(slots_for(160), [160]);
        assert_eq!(slots_for(400), [160, 480]);
        assert_eq!(slots_for(480), [160, 480]);
        assert_eq!(slots_for(800), [160, 480, 1024]);
        assert_eq!(slots_for(1200), [160, 480, 1024, 2048]);
        assert_eq!(slots_for(5000), [160, 480, 1024, 2048]);
    }

    #[test]
    fn a_small_transparent_png_becomes_one_white_backed_jpeg_at_its_own_size() {
        let done = process(&png(100, 50)).unwrap();
        assert_eq!((done.width, done.height), (100, 50));
        assert_eq!(done.renditions.len(), 1);
        let (slot, jpeg) = &done.renditions[0];
        assert_eq!(*slot, 160);
        let back = image::load_from_memory(jpeg).unwrap().into_rgb8();
        assert_eq!(back.dimensions(), (100, 50));
        let px = back.get_pixel(50, 25);
        assert!(px[0] > 200 && px[1] > 100, "blended onto white: {px:?}");
    }

    #[test]
    fn an_image_between_slots_keeps_its_own_size_in_the_next_slot_up() {
        let done = process(&png(400, 200)).unwrap();
        let sizes: Vec<(u32, (u32, u32))> = done
            .renditions
            .iter()
            .map(|(slot, jpeg)| {
                let back = image::load_from_memory(jpeg).unwrap();
                (*slot, (back.width(), back.height()))
            })
            .collect();
        assert_eq!(sizes, [(160, (160, 80)), (480, (400, 200))]);
    }

    #[test]
    fn text_and_other_formats_are_refused_by_content() {
        assert!(matches!(
            process(b"just some text, not a JPEG"),
            Err(UploadError::NotAnImage)
        ));
        assert!(matches!(
            process(b"BM\0\0\0\0"),
            Err(UploadError::NotAnImage)
        ));
        assert!(matches!(process(b""), Err(UploadError::Missing)));
    }

    #[test]
    fn dimensions_are_limited_by_pixels_and_by_side() {
        assert!(check_dimensions(8000, 5000).is_ok());
        assert_eq!(
            check_dimensions(50_000, 50_000).unwrap_err().to_string(),
            "50000×50000 pixels is more than the 40-megapixel limit"
        );
        assert!(matches!(
            check_dimensions(10_001, 10),
            Err(UploadError::SideTooLong { .. })
        ));
    }

    #[test]
    fn a_truncated_image_is_reported_as_damaged() {
        let mut bytes = png(64, 64);
        bytes.truncate(bytes.len() / 2);
        let err = process(&bytes).unwrap_err().to_string();
        assert!(err.contains("could not be read as a PNG image"), "{err}");
    }
}
