//! A guest's own configuration as an initramfs: a gzip'd `newc` cpio archive of a few files
//! under `guest/`. Linux unpacks every archive it finds in the initrd one after the other, so a
//! guest's image is the shared base initramfs with this archive appended (as the kernel's
//! `Documentation/driver-api/early-userspace/buffer-format.rst` describes): no tool, no
//! root, no copy of the base's contents per guest.
//!
//! The format: per entry a 110-byte ASCII header (`070701` and 13 eight-digit hex fields), the
//! NUL-terminated name, padding to 4 bytes, the data, padding to 4 bytes; the archive ends with
//! an entry named `TRAILER!!!`.

use std::io::Write as _;

use anyhow::{bail, Result};

/// One file of the archive: its path (relative, no `..`) and contents.
pub struct Entry<'a> {
    pub path: &'a str,
    pub data: &'a [u8],
}

fn header(out: &mut Vec<u8>, ino: u32, mode: u32, size: usize, name: &str) {
    let namesize = name.len() + 1;
    // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
    // rdevminor, namesize, check
    let fields = [
        ino,
        mode,
        0,
        0,
        1,
        0,
        size as u32,
        0,
        0,
        0,
        0,
        namesize as u32,
        0,
    ];
    out.extend_from_slice(b"070701");
    for f in fields {
        out.extend_from_slice(format!("{f:08x}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad(out);
}

fn pad(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

/// The uncompressed archive of `entries`, with their parent directories first.
pub fn archive(entries: &[Entry]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut dirs: Vec<String> = Vec::new();
    let mut ino = 1;
    for e in entries {
        if e.path.is_empty()
            || e.path.starts_with('/')
            || e.path
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..")
        {
            bail!("cpio: `{}` is not a plain relative path", e.path);
        }
        if e.data.len() > u32::MAX as usize {
            bail!("cpio: {} is over 4 GiB", e.path);
        }
        let parts: Vec<&str> = e.path.split('/').collect();
        for i in 1..parts.len() {
            let d = parts[..i].join("/");
            if !dirs.contains(&d) {
                header(&mut out, ino, 0o040755, 0, &d);
                ino += 1;
                dirs.push(d);
            }
        }
        header(&mut out, ino, 0o100644, e.data.len(), e.path);
        ino += 1;
        out.extend_from_slice(e.data);
        pad(&mut out);
    }
    header(&mut out, 0, 0, 0, "TRAILER!!!");
    Ok(out)
}

/// [`archive`], gzip'd (the kernel's initramfs unpacker takes a gzip member per archive).
pub fn archive_gz(entries: &[Entry]) -> Result<Vec<u8>> {
    let raw = archive(entries)?;
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&raw)?;
    Ok(z.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a newc archive back: (name, mode, data) per entry, up to the trailer.
    fn read(mut b: &[u8]) -> Vec<(String, u32, Vec<u8>)> {
        let mut out = Vec::new();
        let total = b.len();
        loop {
            assert_eq!(&b[..6], b"070701", "magic at {}", total - b.len());
            let field = |i: usize| {
                let s = std::str::from_utf8(&b[6 + 8 * i..14 + 8 * i]).unwrap();
                u32::from_str_radix(s, 16).unwrap() as usize
            };
            let (mode, size, namesize) = (field(1), field(6), field(11));
            let name = std::str::from_utf8(&b[110..110 + namesize - 1])
                .unwrap()
                .to_string();
            assert_eq!(b[110 + namesize - 1], 0);
            let data_at = (110 + namesize).div_ceil(4) * 4;
            let next = (data_at + size).div_ceil(4) * 4;
            if name == "TRAILER!!!" {
                assert_eq!(next, b.len(), "nothing after the trailer");
                return out;
            }
            out.push((name, mode as u32, b[data_at..data_at + size].to_vec()));
            b = &b[next..];
        }
    }

    #[test]
    fn an_archive_holds_its_files_after_their_directories() {
        let a = archive(&[
            Entry {
                path: "guest/guest.env",
                data: b"ROUTER=kernel\n",
            },
            Entry {
                path: "guest/vr.toml",
                data: b"x",
            },
        ])
        .unwrap();
        assert_eq!(a.len() % 4, 0);
        let got = read(&a);
        let names: Vec<&str> = got.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(names, ["guest", "guest/guest.env", "guest/vr.toml"]);
        assert_eq!(got[0].1, 0o040755);
        assert_eq!(got[1].1, 0o100644);
        assert_eq!(got[1].2, b"ROUTER=kernel\n");
        assert_eq!(got[2].2, b"x");
    }

    #[test]
    fn paths_that_leave_the_archive_are_refused() {
        for bad in ["", "/etc/passwd", "guest/../init", "guest//x", "./x"] {
            let e = archive(&[Entry {
                path: bad,
                data: b"",
            }]);
            assert!(e.is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_gzip_form_decompresses_to_the_archive() {
        use std::io::Read as _;
        let entries = [Entry {
            path: "guest/routes.txt",
            data: &[b'a'; 5000],
        }];
        let gz = archive_gz(&entries).unwrap();
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut raw)
            .unwrap();
        assert_eq!(raw, archive(&entries).unwrap());
    }
}
