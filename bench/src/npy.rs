//! numpy `.npy` files: a short header (dtype, shape), then little-endian data. Only what the
//! benchmark data uses: 2-d, C order, `<f4` or `<i4`.

use std::io::Write;
use std::path::Path;

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

/// Format 1.0 header: magic, version, header length, then the dict padded with spaces so the
/// data starts at a multiple of 64 bytes, as numpy writes it.
fn encode_header(descr: &str, rows: usize, cols: usize) -> Vec<u8> {
    let mut dict =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    let unpadded = 10 + dict.len() + 1;
    dict.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Writes a `<f4` matrix of known shape row block by row block, so it never has to be in memory
/// whole.
pub struct F32Writer {
    out: std::io::BufWriter<std::fs::File>,
    left: usize,
}

impl F32Writer {
    pub fn create(path: &Path, rows: usize, cols: usize) -> anyhow::Result<F32Writer> {
        let file =
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        out.write_all(&encode_header("<f4", rows, cols))?;
        Ok(F32Writer {
            out,
            left: rows * cols,
        })
    }

    pub fn write(&mut self, values: &[f32]) -> anyhow::Result<()> {
        anyhow::ensure!(
            values.len() <= self.left,
            "more values than the shape holds"
        );
        self.left -= values.len();
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.out.write_all(&bytes)?;
        Ok(())
    }

    pub fn finish(mut self) -> anyhow::Result<()> {
        anyhow::ensure!(self.left == 0, "{} values missing for the shape", self.left);
        self.out.flush()?;
        Ok(())
    }
}

pub fn write_f32(path: &Path, rows: usize, cols: usize, values: &[f32]) -> anyhow::Result<()> {
    let mut w = F32Writer::create(path, rows, cols)?;
    w.write(values)?;
    w.finish()
}

/// Writes `rows` as a `<i4` matrix; every row must have `cols` values.
pub fn write_i32(path: &Path, cols: usize, rows: &[Vec<u32>]) -> anyhow::Result<()> {
    let mut bytes = encode_header("<i4", rows.len(), cols);
    for row in rows {
        anyhow::ensure!(
            row.len() == cols,
            "a row of {} values, not {cols}",
            row.len()
        );
        for &v in row {
            let v = i32::try_from(v).context("row number past i32")?;
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_matrices_read_back_with_aligned_data() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f.npy");
        let values: Vec<f32> = (0..12).map(|i| i as f32 * 0.5 - 1.0).collect();
        write_f32(&f, 3, 4, &values).unwrap();
        let m = read_f32(&f).unwrap();
        assert_eq!((m.rows, m.cols), (3, 4));
        assert_eq!(m.data, values);
        let bytes = std::fs::read(&f).unwrap();
        assert_eq!(
            (bytes.len() - 12 * 4) % 64,
            0,
            "data starts on a 64-byte boundary"
        );

        let i = dir.path().join("i.npy");
        write_i32(&i, 2, &[vec![1, 2], vec![3, 4], vec![5, 6]]).unwrap();
        let m = read_i32(&i).unwrap();
        assert_eq!((m.rows, m.cols, m.data), (3, 2, vec![1, 2, 3, 4, 5, 6]));
    }

    #[test]
    fn a_writer_refuses_the_wrong_number_of_values() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = F32Writer::create(&dir.path().join("x.npy"), 2, 2).unwrap();
        w.write(&[1.0, 2.0, 3.0]).unwrap();
        assert!(w.write(&[4.0, 5.0]).is_err());
        assert!(w.finish().is_err());
    }
}
