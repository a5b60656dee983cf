using System.Buffers.Binary;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text;

namespace FairNad.Data.Tests;

/// <summary>Writes small files in the published byte formats.</summary>
internal static class Formats
{
    /// <summary>One gzip member; <see cref="CompressionLevel.NoCompression"/> stores the data verbatim, so a flipped bit in it still inflates.</summary>
    public static byte[] Gzip(byte[] data, CompressionLevel level = CompressionLevel.Fastest)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, level))
        {
            gzip.Write(data);
        }

        return output.ToArray();
    }

    /// <summary>A copy with one bit flipped at <paramref name="index"/> (from the end when negative).</summary>
    public static byte[] FlipBit(byte[] data, int index, int bit = 3)
    {
        var copy = data.ToArray();
        copy[index < 0 ? copy.Length + index : index] ^= (byte)(1 << bit);
        return copy;
    }

    /// <summary>Requirements that fit the small files these helpers write: the given record counts and no official checksums.</summary>
    public static DataRequirements Small(int cifarBatch = 0, int cifar100Train = 0, int cifar100Test = 0, int fashionTrain = 0, int fashionTest = 0, int imageNetTrain = 0, int imageNetValidation = 0) =>
        new(cifarBatch, cifar100Train, cifar100Test, fashionTrain, fashionTest, imageNetTrain, imageNetValidation, Checksums: false);

    /// <summary>CIFAR records; pixel bytes encode (record, position) so a mix-up shows.</summary>
    public static byte[] Cifar(int[] labels, bool cifar100, int salt)
    {
        var record = 3072 + (cifar100 ? 2 : 1);
        var data = new byte[labels.Length * record];
        for (var i = 0; i < labels.Length; i++)
        {
            var offset = i * record;
            if (cifar100)
            {
                data[offset++] = (byte)(labels[i] / 5); // coarse label
            }

            data[offset++] = (byte)labels[i];
            for (var p = 0; p < 3072; p++)
            {
                data[offset + p] = (byte)((salt * 31) + (i * 7) + p);
            }
        }

        return data;
    }

    public static byte[] Tar(IEnumerable<(string Name, byte[] Data)> files)
    {
        using var output = new MemoryStream();
        using (var writer = new TarWriter(output, TarEntryFormat.Ustar, leaveOpen: true))
        {
            foreach (var (name, data) in files)
            {
                writer.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(data) });
            }
        }

        return output.ToArray();
    }

    /// <summary>
    /// A pickle as numpy writes {'data': uint8 array [N, 768], 'labels': [..]}: protocol 2, the array through
    /// numpy.core.multiarray._reconstruct and a BUILD with (1, shape, dtype('u1'), False, raw). Python 2 pickles carry the
    /// raw bytes as a str (BINSTRING), which NB201 reads with encoding='latin1'.
    /// </summary>
    public static byte[] ImageNet16Pickle(byte[] pixels, int[] labels, bool python2)
    {
        var p = new List<byte> { 0x80, 0x02, (byte)'}', (byte)'(' };
        void Text(string s)
        {
            var bytes = Encoding.ASCII.GetBytes(s);
            if (python2)
            {
                p.Add((byte)'U');
                p.Add((byte)bytes.Length);
            }
            else
            {
                p.Add((byte)'X');
                p.AddRange(BitConverter.GetBytes(bytes.Length));
            }

            p.AddRange(bytes);
        }

        void Int(int value)
        {
            p.Add((byte)'J');
            p.AddRange(BitConverter.GetBytes(value));
        }

        void Global(string module, string name) => p.AddRange(Encoding.ASCII.GetBytes($"c{module}\n{name}\n"));

        void Raw(byte[] bytes)
        {
            p.Add(python2 ? (byte)'T' : (byte)'B');
            p.AddRange(BitConverter.GetBytes(bytes.Length));
            p.AddRange(bytes);
        }

        Text("data");
        Global("numpy.core.multiarray", "_reconstruct");
        Global("numpy", "ndarray");
        Int(0);
        p.Add(0x85); // TUPLE1
        Raw("b"u8.ToArray());
        p.Add(0x87); // TUPLE3
        p.Add((byte)'R');
        p.Add((byte)'(');
        Int(1);
        Int(labels.Length);
        Int(768);
        p.Add(0x86); // TUPLE2
        Global("numpy", "dtype");
        Text("u1");
        Int(0);
        Int(1);
        p.Add(0x87);
        p.Add((byte)'R');
        p.Add((byte)'(');
        Int(3);
        Text("|");
        p.AddRange("NNN"u8.ToArray());
        Int(-1);
        Int(-1);
        Int(0);
        p.Add((byte)'t');
        p.Add((byte)'b');
        p.Add(0x89); // NEWFALSE
        Raw(pixels);
        p.Add((byte)'t');
        p.Add((byte)'b');
        Text("labels");
        p.Add((byte)']');
        p.Add((byte)'(');
        foreach (var label in labels)
        {
            Int(label);
        }

        p.Add((byte)'e');
        p.Add((byte)'u');
        p.Add((byte)'.');
        return p.ToArray();
    }

    public static (byte[] Images, byte[] Labels) Idx(int count, int side, Func<int, int> label)
    {
        var images = new byte[16 + (count * side * side)];
        BinaryPrimitives.WriteInt32BigEndian(images, 0x0803);
        BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(8), side);
        BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(12), side);
        for (var i = 16; i < images.Length; i++)
        {
            images[i] = (byte)i;
        }

        var labels = new byte[8 + count];
        BinaryPrimitives.WriteInt32BigEndian(labels, 0x0801);
        BinaryPrimitives.WriteInt32BigEndian(labels.AsSpan(4), count);
        for (var i = 0; i < count; i++)
        {
            labels[8 + i] = (byte)label(i);
        }

        return (images, labels);
    }
}
