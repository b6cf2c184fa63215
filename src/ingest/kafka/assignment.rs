//! Decodes a group member's assignment as Kafka's consumer protocol writes it
//! (`ConsumerProtocolAssignment`: version, then topics with their partitions, then user
//! data), so the UI can say which member reads which partition.

/// (topic, partitions) pairs, or `None` when the bytes are not a consumer assignment (a
/// group of another protocol type, such as Connect workers).
pub fn decode(bytes: &[u8]) -> Option<Vec<(String, Vec<i32>)>> {
    let mut r = Reader { bytes, at: 0 };
    let _version = r.i16()?;
    let topics = r.i32()?;
    let mut out = Vec::with_capacity(topics.clamp(0, 1024) as usize);
    for _ in 0..topics.max(0) {
        let len = r.i16()?;
        let name = std::str::from_utf8(r.take(usize::try_from(len).ok()?)?).ok()?.to_owned();
        let count = r.i32()?;
        let mut partitions = Vec::with_capacity(count.clamp(0, 4096) as usize);
        for _ in 0..count.max(0) {
            partitions.push(r.i32()?);
        }
        partitions.sort_unstable();
        out.push((name, partitions));
    }
    out.sort();
    Some(out)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let slice = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(slice)
    }

    fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }

    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_consumer_protocol_and_rejects_garbage() {
        let mut b = vec![0, 1, 0, 0, 0, 1, 0, 6];
        b.extend_from_slice(b"orders");
        b.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 1]);
        b.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(decode(&b), Some(vec![("orders".to_owned(), vec![1, 3])]));
        assert_eq!(decode(&b[..9]), None);
        assert_eq!(decode(&[0, 1, 0, 0, 0, 0]), Some(vec![]));
    }
}
