//! Reading numpy `.npy` files: a short header (dtype, shape), then little-endian data. Only what
//! the benchmark data uses: 2-d, C order, `<f4` or `<i4`.

use anyhow::{bail, Context};

pub struct Matrix<T> {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<T>,
}

impl<T> Matrix<T> {
    pub fn row(&self, i: usize) -> &[T] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
}

fn header(bytes: &[u8]) -> anyhow::Result<(String, usize, usize, usize)> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        bail!("not a .npy file");
    }
    let (len, start) = if bytes[6] == 1 {
        (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10)
    } else {
        let b = bytes.get(8..12).context("short header")?;
        (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 12)
    };
    let text = std::str::from_utf8(bytes.get(start..start + len).context("short header")?)?;
    let descr = text
        .split("'descr':")
        .nth(1)
        .and_then(|s| s.split('\'').nth(1))
        .context("no descr")?
        .to_string();
    if text.contains("'fortran_order': True") {
        bail!("Fortran-order arrays are not supported");
    }
    let shape = text
        .split("'shape':")
        .nth(1)
        .and_then(|s| s.split('(').nth(1))
        .and_then(|s| s.split(')').next())
        .context("no shape")?;
    let dims: Vec<usize> = shape
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let (rows, cols) = match dims[..] {
        [r, c] => (r, c),
        [r] => (r, 1),
        _ => bail!("expected a 2-d array, got shape {dims:?}"),
    };
    Ok((descr, rows, cols, start + len))
}

pub fn read_f32(path: &std::path::Path) -> anyhow::Result<Matrix<f32>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let (descr, rows, cols, at) = header(&bytes)?;
    if descr != "<f4" {
        bail!("{}: expected <f4, got {descr}", path.display());
    }
    let data = bytes[at..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect::<Vec<_>>();
    if data.len() != rows * cols {
        bail!(
            "{}: {} values for shape ({rows}, {cols})",
            path.display(),
            data.len()
        );
    }
    Ok(Matrix { rows, cols, data })
}

pub fn read_i32(path: &std::path::Path) -> anyhow::Result<Matrix<i32>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let (descr, rows, cols, at) = header(&bytes)?;
    let data: Vec<i32> = match descr.as_str() {
        "<i4" => bytes[at..]
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        "<i8" => bytes[at..]
            .chunks_exact(8)
            .map(|c| {
                let mut a = [0u8; 8];
                a.copy_from_slice(c);
                i64::from_le_bytes(a) as i32
            })
            .collect(),
        other => bail!("{}: expected <i4 or <i8, got {other}", path.display()),
    };
    if data.len() != rows * cols {
        bail!(
            "{}: {} values for shape ({rows}, {cols})",
            path.display(),
            data.len()
        );
    }
    Ok(Matrix { rows, cols, data })
}
