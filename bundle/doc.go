// Package bundle reads and writes meshpack bundles (format v1): one .tar.zst
// file that any `tar --zstd` lists and extracts into an OCI image layout, and
// that meshpack reads by random access.
//
// # Tar stream
//
// The tar stream (archive/tar, deterministic headers: mode 0644 for files and
// 0755 for directories and for programs below meshpack/bin/, uid/gid 0, no
// user or group names, one mtime for every entry) holds, in this order:
//
//	oci-layout
//	index.json
//	meshpack/                  directory
//	meshpack/bom.json          the BOM (see BOM)
//	meshpack/bom.json.sig      optional signature over bom.json
//	meshpack/lock.yaml
//	meshpack/…                 other metadata files, such as
//	meshpack/bin/<os>-<arch>/meshpack   the meshpack program (create --include-self)
//	blobs/  blobs/sha256/      directories
//	blobs/sha256/<hex>         every blob exactly once
//	two zero blocks            the tar trailer
//
// Metadata comes before any blob, every directory before its children.
//
// # zstd frames
//
// The tar stream is compressed as independent zstd frames (RFC 8878). A new
// frame starts at every tar entry boundary, before the entry's header; an
// entry larger than the frame size (4 MiB by default) continues in further
// frames of that size, and its last frame also holds the padding to the next
// 512-byte block. The trailer has a frame of its own.
//
// Data that is already compressed (media types ending in +gzip, .gzip,
// +zstd, .zstd, +xz or +bzip2, which includes Helm chart content, or data
// starting with a gzip, zstd, xz or bzip2 magic number) is stored in frames
// made of raw blocks (Block_Type 0, at most 128 KiB each): single-segment
// frames with Frame_Content_Size and the XXH64 content checksum, written
// without running a compressor. Other data is compressed with
// klauspost/compress at the configured level, one EncodeAll per frame; a
// frame that does not shrink below 98% of its raw-block size is stored raw
// instead.
//
// # TOC and seek table
//
// After the last data frame come two skippable frames:
//
//   - The TOC frame, magic 0x184D2A5B. Its payload is the 8 bytes "MPKTOC01"
//     followed by one zstd frame holding JSON:
//     {"format":"meshpack-bundle-toc","version":1,"size":N,"entries":[…]}
//     where size is the length of the tar stream and each entry is
//     {"name","dir","header","offset","size"}: the uncompressed offsets of
//     the entry's first header block and of its data, and the data length.
//   - The seek table frame of the zstd seekable format
//     (facebook/zstd contrib/seekable_format), magic 0x184D2A5E: one entry
//     per frame with Compressed_Size, Decompressed_Size and Checksum (the
//     low 32 bits of XXH64 of the frame's content), then the footer
//     Number_Of_Frames, the descriptor 0x80 (checksums present) and the magic
//     0x8F92EAB1, which are the file's last bytes.
//
// The seek table lists every frame before it, the TOC frame included as its
// last entry with Decompressed_Size 0 (the seekable format's rule for
// skippable frames) and the checksum of empty content, so the compressed
// sizes add up to the seek table's offset. Standard seekable-format readers
// therefore read the tar stream by random access, and plain `zstd -d`
// skips both frames.
//
// A reader finds the footer at the end of the file, reads the seek table and
// the TOC, and decompresses only the frames of the entry it needs; raw
// frames are copied. When the footer or TOC is missing or inconsistent (for
// example after `zstd -d | zstd`), Open refuses the bundle as damaged
// (ErrNotSeekable); with ReaderOptions.AllowRescan it reads it through a
// sequential scan instead: slow, but the bundle can still be verified.
//
// # What a valid bundle is
//
// A bundle is valid, and Verify passes, only when all of this holds; Verify
// proves it in one pass over the tar headers, padding and frame boundaries
// while it hashes every blob, before anything in the bundle is trusted:
//
//   - The seek table's frames cover the file up to the seek table exactly;
//     every frame but the TOC frame decodes to at least one byte (an empty
//     entry could hide a frame that plain zstd would decode), and the TOC
//     frame is the last. No entry's frames expand more than 1000× beyond
//     64 MiB (a decompression bomb).
//   - The TOC lists the entries contiguously from offset 0. At every entry
//     the tar stream holds exactly one header for it: ustar, or pax with
//     only "path" and "size" records; type regular file or directory (no
//     links, devices, FIFOs, GNU extensions); mode 0644 for files, 0755 for
//     directories and for files below meshpack/bin/ (programs); uid and gid 0 without names; the name, size and data
//     offset the TOC says. The data is followed by zero padding to the next
//     512-byte block, and the last entry by a tar trailer of zero blocks
//     (at most 10 KiB) and nothing else.
//   - Entries are the ones listed under "Tar stream", in that order, each
//     once. The BOM lists every blob (Blobs) and every other regular file
//     but itself and its signature (Files: oci-layout, index.json,
//     meshpack/lock.yaml, other meshpack/* files) with its sha256, and each
//     of them hashes to what the BOM records. So the BOM signature covers
//     every byte that `tar -x` extracts, index.json annotations included.
//   - index.json and the BOM artifacts name the same manifests, and every
//     manifest reachable from index.json parses and its blobs are present
//     (except, in an incremental bundle, those expected in its base).
//
// Consequently `tar --zstd -xf` of a bundle that verifies yields exactly the
// files the BOM lists. Limits checked before parsing keep hostile input
// bounded: at most 2^20 frames, a TOC frame of at most 16 MiB holding at most
// 32 MiB (and 512 bytes per frame) of JSON, metadata files of at most
// 16 MiB (programs below meshpack/bin/: 1 GiB), manifests of at most 4 MiB, frames of at most 64 MiB.
//
// # Split parts
//
// A bundle may be split into NAME.000, NAME.001, … (a byte split of the
// single file, at most 1000 parts) plus NAME.sha256, their checksums. Open
// reads the parts directly, given NAME or NAME.000.
//
// NAME.sha256 is itself a zstd skippable frame: the magic 0x184D2A5C
// (little-endian), the payload length as a little-endian u32, and the
// payload, which is "\n" followed by a sha256sum listing of the parts as
// sha256sum writes it (per part: hex digest, two spaces, the part's name
// relative to its directory, newline). Because the shell sorts NAME.sha256
// after the numbered parts:
//
//   - `cat NAME.* > NAME` gives the bundle followed by that one skippable
//     frame. `zstd -t`, `zstd -d` and `tar --zstd` skip it, and Open and
//     NewReader recognise it (only this exact frame, ending exactly at the
//     end of the file) and read the bundle before it as usual.
//   - `cat NAME.[0-9][0-9][0-9] > NAME` gives the byte-exact single file.
//   - `sha256sum -c NAME.sha256`, run in its directory, checks every part and
//     exits 0; GNU sha256sum warns that one line (the binary header; two if
//     a length byte is a newline) is improperly formatted. With --strict it
//     exits 1 for that reason, so do not use --strict.
//
// VerifyParts does the same check as `sha256sum -c` and also accepts a
// plain-text sha256sum listing as NAME.sha256.
//
// # Use
//
// Writer is a push-only oras-go Target: AddFile the metadata, Push the blobs
// (verified while they stream), Close. Create wraps it to publish a file or
// parts atomically. Reader is a read-only oras-go Target with Resolve by
// ref name; Verify checks a bundle completely and Validate is the
// conformance check tests run on every bundle they write.
package bundle
