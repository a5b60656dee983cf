using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;

namespace FairNad.Data;

/// <summary>CRC-32 as gzip's trailer (and zip, PNG, Ethernet) uses it: reflected polynomial 0xEDB88320, initial and final XOR with ~0.</summary>
public static class Crc32
{
    private static readonly uint[] Table = BuildTable();

    /// <summary>The CRC-32 of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);

    /// <summary>The CRC-32 of the bytes whose CRC-32 is <paramref name="crc"/> followed by <paramref name="data"/>.</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        var table = Table;
        var value = ~crc;
        foreach (var b in data)
        {
            value = table[(value ^ b) & 0xff] ^ (value >> 8);
        }

        return ~value;
    }

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            var value = i;
            for (var bit = 0; bit < 8; bit++)
            {
                value = (value & 1) != 0 ? 0xEDB88320u ^ (value >> 1) : value >> 1;
            }

            table[i] = value;
        }

        return table;
    }
}

/// <summary>
/// Decompresses gzip data member by member (RFC 1952) and checks every member's trailer: the CRC-32 and the size
/// (mod 2^32) of what it decompresses to. .NET's <see cref="GZipStream"/> checks neither, so a flipped bit could decode
/// silently into different pixels, and a cut-off file into fewer images.
/// </summary>
public static class Gzip
{
    private const int HeaderSize = 10;
    private const int TrailerSize = 8;

    /// <summary>Whether the bytes start with the gzip magic (1f 8b).</summary>
    public static bool IsGzip(ReadOnlySpan<byte> bytes) => bytes.Length >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;

    /// <summary>The decompressed bytes of every member, concatenated.</summary>
    /// <exception cref="DataFormatException">a header, the deflate data or a trailer is wrong; the message names <paramref name="source"/> and the member.</exception>
    public static byte[] Decompress(byte[] compressed, string source)
    {
        using var output = new MemoryStream(ExpectedSize(compressed));
        Decompress(new MemoryStream(compressed, writable: false), output, source);
        return output.ToArray();
    }

    /// <summary>Decompresses a gzip file into memory, checking every member.</summary>
    /// <exception cref="DataFormatException">as <see cref="Decompress(byte[], string)"/>.</exception>
    public static MemoryStream DecompressFile(string path)
    {
        using var input = File.OpenRead(path);
        var tail = new byte[4];
        var capacity = 0;
        if (input.Length >= HeaderSize + TrailerSize)
        {
            input.Position = input.Length - 4;
            input.ReadExactly(tail);
            capacity = ExpectedSize(tail);
            input.Position = 0;
        }

        var output = new MemoryStream(capacity);
        Decompress(input, output, path);
        output.Position = 0;
        return output;
    }

    /// <summary>Decompresses every member of <paramref name="compressed"/> (which must be seekable) into <paramref name="output"/>.</summary>
    /// <exception cref="DataFormatException">as <see cref="Decompress(byte[], string)"/>.</exception>
    public static void Decompress(Stream compressed, Stream output, string source)
    {
        var length = compressed.Length;
        var start = compressed.Position;
        var buffer = new byte[1 << 16];
        var magic = new byte[2];
        for (var member = 1; ; member++)
        {
            compressed.Position = start;
            var dataStart = SkipHeader(compressed, length, source, member);
            var counting = new CountingStream(compressed);
            uint crc = 0;
            long size = 0;
            try
            {
                using var inflate = new DeflateStream(counting, CompressionMode.Decompress, leaveOpen: true);
                int read;
                while ((read = inflate.Read(buffer)) > 0)
                {
                    crc = Crc32.Append(crc, buffer.AsSpan(0, read));
                    size += read;
                    output.Write(buffer, 0, read);
                }
            }
            catch (InvalidDataException e)
            {
                throw new DataFormatException(Invariant($"{source}: corrupt or truncated gzip data in member {member} (deflate data from byte {dataStart}): {e.Message}"), e);
            }

            var trailer = FindTrailer(compressed, length, Math.Max(dataStart, counting.LastReadStart - (1 << 16)), counting.End, crc, (uint)size);
            if (trailer < 0)
            {
                throw new DataFormatException(Mismatch(compressed, length, source, member, crc, size, reachedEnd: counting.End >= length));
            }

            start = trailer + TrailerSize;
            if (start == length)
            {
                return;
            }

            compressed.Position = start;
            if (length - start < 2 || compressed.Read(magic) < 2 || !IsGzip(magic))
            {
                throw new DataFormatException(Invariant($"{source}: {length - start} bytes of trailing data after gzip member {member} (not another gzip member)"));
            }
        }
    }

    /// <summary>The trailer's size field as a buffer capacity: a hint, never trusted.</summary>
    private static int ExpectedSize(ReadOnlySpan<byte> bytes) =>
        bytes.Length >= 4 ? (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(bytes[^4..]), 1u << 30) : 0;

    /// <summary>Reads a member header at the stream's position; returns where its deflate data starts.</summary>
    private static long SkipHeader(Stream stream, long length, string source, int member)
    {
        var at = stream.Position;
        DataFormatException Bad(string what) => new(Invariant($"{source}: gzip member {member} (at byte {at}): {what}"));
        var header = new byte[HeaderSize];
        if (length - at < HeaderSize + TrailerSize)
        {
            throw Bad($"only {length - at} bytes left, too few for a gzip header and trailer (truncated file)");
        }

        stream.ReadExactly(header);
        if (!IsGzip(header))
        {
            throw Bad($"no gzip magic (found {header[0]:x2} {header[1]:x2}, expected 1f 8b)");
        }

        if (header[2] != 8)
        {
            throw Bad($"compression method {header[2]} is not deflate (8)");
        }

        var flags = header[3];
        if ((flags & 0xe0) != 0)
        {
            throw Bad($"reserved header flags are set (0x{flags:x2})");
        }

        try
        {
            if ((flags & 0x04) != 0)
            {
                Span<byte> extra = stackalloc byte[2];
                stream.ReadExactly(extra);
                stream.Position += BinaryPrimitives.ReadUInt16LittleEndian(extra);
            }

            foreach (var zeroTerminated in new[] { 0x08, 0x10 })
            {
                if ((flags & zeroTerminated) != 0)
                {
                    int b;
                    while ((b = stream.ReadByte()) > 0)
                    {
                    }

                    if (b < 0)
                    {
                        throw new EndOfStreamException();
                    }
                }
            }

            if ((flags & 0x02) != 0)
            {
                stream.Position += 2;
            }
        }
        catch (EndOfStreamException)
        {
            throw Bad("the header runs past the end of the file (truncated file)");
        }

        if (stream.Position > length - TrailerSize)
        {
            throw Bad("the header runs past the end of the file (truncated file)");
        }

        return stream.Position;
    }

    /// <summary>
    /// Where the member's trailer starts: the first offset in [from, to] holding the expected CRC-32 and size that is
    /// followed by the end of the file or another member; -1 when there is none. The deflate data ends inside the last
    /// block the inflater read, so the window is small.
    /// </summary>
    private static long FindTrailer(Stream stream, long length, long from, long to, uint crc, uint size)
    {
        to = Math.Min(to, length - TrailerSize);
        if (to < from)
        {
            return -1;
        }

        var window = new byte[(int)Math.Min(to - from + TrailerSize + 2, length - from)];
        stream.Position = from;
        stream.ReadExactly(window);
        Span<byte> expected = stackalloc byte[TrailerSize];
        BinaryPrimitives.WriteUInt32LittleEndian(expected, crc);
        BinaryPrimitives.WriteUInt32LittleEndian(expected[4..], size);
        long trailingData = -1;
        for (var i = 0; i <= to - from; i++)
        {
            if (!window.AsSpan(i, TrailerSize).SequenceEqual(expected))
            {
                continue;
            }

            var after = from + i + TrailerSize;
            if (after == length || (i + TrailerSize + 2 <= window.Length && IsGzip(window.AsSpan(i + TrailerSize, 2))))
            {
                return from + i;
            }

            trailingData = trailingData < 0 ? from + i : trailingData;
        }

        // A matching trailer followed by something that is not a member: report it as trailing data.
        return trailingData;
    }

    private static string Mismatch(Stream stream, long length, string source, int member, uint crc, long size, bool reachedEnd)
    {
        var found = Invariant($"member {member} decompresses to {size} bytes with CRC-32 {crc:x8}");
        if (!reachedEnd)
        {
            return Invariant($"{source}: corrupt or truncated gzip data: {found}, but no trailer with that CRC-32 and size follows it");
        }

        // The inflater read to the end of the file, so this member's trailer is the file's last 8 bytes.
        var trailer = new byte[TrailerSize];
        stream.Position = length - TrailerSize;
        stream.ReadExactly(trailer);
        var expectedCrc = BinaryPrimitives.ReadUInt32LittleEndian(trailer);
        var expectedSize = BinaryPrimitives.ReadUInt32LittleEndian(trailer.AsSpan(4));
        var what = expectedSize == (uint)size ? "CRC-32 mismatch" : "size mismatch";
        return Invariant($"{source}: corrupt or truncated gzip data, {what}: {found}, but its trailer says {expectedSize} bytes with CRC-32 {expectedCrc:x8}");
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>A read-only view of a stream that remembers where its last read of data started and ended.</summary>
    private sealed class CountingStream(Stream inner) : Stream
    {
        public long LastReadStart { get; private set; } = inner.Position;

        public long End { get; private set; } = inner.Position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => End;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var start = inner.Position;
            var read = inner.Read(buffer);
            if (read > 0)
            {
                LastReadStart = start;
                End = start + read;
            }

            return read;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
