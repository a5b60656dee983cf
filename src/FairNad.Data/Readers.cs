using System.Buffers.Binary;
using System.Formats.Tar;
using System.Globalization;
using System.Text;
using Razorvine.Pickle;

namespace FairNad.Data;

/// <summary>IDX files (MNIST, Fashion-MNIST), gzipped or not: big-endian magic 0x0803 (images) or 0x0801 (labels).</summary>
public static class IdxReader
{
    public static ImageSet Read(string imagesPath, string labelsPath, string name, int classes = 10)
    {
        var images = ReadAll(imagesPath);
        var labels = ReadAll(labelsPath);
        return Parse(images, labels, name, classes, imagesPath, labelsPath);
    }

    public static ImageSet Parse(byte[] images, byte[] labels, string name, int classes, string imagesSource, string labelsSource)
    {
        if (images.Length < 16 || BinaryPrimitives.ReadInt32BigEndian(images) != 0x0803)
        {
            throw new DataFormatException($"{imagesSource}: not an IDX image file (magic 0x00000803 expected)");
        }

        if (labels.Length < 8 || BinaryPrimitives.ReadInt32BigEndian(labels) != 0x0801)
        {
            throw new DataFormatException($"{labelsSource}: not an IDX label file (magic 0x00000801 expected)");
        }

        var count = BinaryPrimitives.ReadInt32BigEndian(images.AsSpan(4));
        var rows = BinaryPrimitives.ReadInt32BigEndian(images.AsSpan(8));
        var columns = BinaryPrimitives.ReadInt32BigEndian(images.AsSpan(12));
        var labelCount = BinaryPrimitives.ReadInt32BigEndian(labels.AsSpan(4));
        if (count < 0 || rows < 1 || columns < 1)
        {
            throw new DataFormatException(Invariant($"{imagesSource}: the IDX header says {count} images of {rows}x{columns}, which is not a valid size"));
        }

        if (images.Length != 16 + ((long)count * rows * columns))
        {
            throw new DataFormatException(Invariant($"{imagesSource}: header says {count} images of {rows}x{columns} ({16 + ((long)count * rows * columns)} bytes) but the file has {images.Length} bytes (truncated?)"));
        }

        if (labelCount < 0 || labels.Length != 8L + labelCount)
        {
            throw new DataFormatException(Invariant($"{labelsSource}: header says {labelCount} labels ({8L + labelCount} bytes) but the file has {labels.Length} bytes (truncated?)"));
        }

        if (labelCount != count)
        {
            throw new DataFormatException(Invariant($"{labelsSource}: {labelCount} labels do not match the {count} images of {imagesSource}"));
        }

        var result = labels.AsSpan(8).ToArray().Select(b => (int)b).ToArray();
        var bad = Array.FindIndex(result, l => l >= classes);
        if (bad >= 0)
        {
            throw new DataFormatException($"{labelsSource}: label {result[bad]} at index {bad} is not below {classes}");
        }

        return new ImageSet(name, 1, rows, columns, classes, images.AsSpan(16).ToArray(), result);
    }

    /// <summary>The file's bytes, decompressed (every gzip member's CRC-32 and size checked) when it starts with the gzip magic.</summary>
    /// <exception cref="DataFormatException">the path is a directory or missing, or the gzip data is corrupt.</exception>
    public static byte[] ReadAll(string path)
    {
        DataPaths.RequireFile(path, "an IDX file");
        var bytes = File.ReadAllBytes(path);
        return Gzip.IsGzip(bytes) ? Gzip.Decompress(bytes, path) : bytes;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// The CIFAR binary versions: CIFAR-10 records are 1 label byte + 3,072 pixel bytes (R, G, B planes of 32 x 32);
/// CIFAR-100 records are a coarse and a fine label byte + 3,072 pixel bytes (the fine label is used). Reads a directory
/// of .bin files or the official .tar.gz directly.
/// </summary>
public static class CifarReader
{
    private const int Pixels = 3 * 32 * 32;

    public static readonly IReadOnlyList<string> Cifar10Train = ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];

    /// <summary>One batch file; with <paramref name="expectedRecords"/>, a file with any other number of records is an error.</summary>
    public static ImageSet ParseBatch(byte[] data, bool cifar100, string source, int? expectedRecords = null)
    {
        var record = Pixels + (cifar100 ? 2 : 1);
        var name = $"CIFAR-{(cifar100 ? 100 : 10)}";
        if (data.Length == 0 || data.Length % record != 0)
        {
            throw new DataFormatException($"{source}: {data.Length} bytes is not a whole number of {record}-byte {name} records (truncated or the wrong dataset?)");
        }

        var count = data.Length / record;
        if (expectedRecords is { } expected && count != expected)
        {
            throw new DataFormatException(string.Create(CultureInfo.InvariantCulture,
                $"{source}: {count:N0} records ({data.Length:N0} bytes), expected {expected:N0} {name} records ({(long)expected * record:N0} bytes): the file is truncated or not the official one"));
        }

        var pixels = new byte[count * Pixels];
        var labels = new int[count];
        var classes = cifar100 ? 100 : 10;
        for (var i = 0; i < count; i++)
        {
            var label = data[(i * record) + (cifar100 ? 1 : 0)];
            if (label >= classes)
            {
                throw new DataFormatException($"{source}: record {i} has label {label}, not below {classes}");
            }

            labels[i] = label;
            data.AsSpan((i * record) + record - Pixels, Pixels).CopyTo(pixels.AsSpan(i * Pixels));
        }

        return new ImageSet(source, 3, 32, 32, classes, pixels, labels);
    }

    /// <summary>
    /// Train and test sets from a directory (searched recursively) or a .tar.gz holding the .bin files. Every file must hold
    /// exactly the records <paramref name="requirements"/> says (default: the official 10,000 per CIFAR-10 batch, 50,000
    /// and 10,000 for CIFAR-100's train.bin and test.bin).
    /// </summary>
    public static (ImageSet Train, ImageSet Test) Load(string path, bool cifar100, DataRequirements? requirements = null)
    {
        var expect = requirements ?? DataRequirements.Official;
        var files = Files(path);
        var testName = cifar100 ? "test.bin" : "test_batch.bin";
        foreach (var name in (cifar100 ? ["train.bin"] : Cifar10Train).Append(testName).Where(n => !files.ContainsKey(n)))
        {
            throw new DataFormatException($"{path}: no {name} (expected the CIFAR-{(cifar100 ? 100 : 10)} binary version, e.g. {(cifar100 ? "cifar-100-binary.tar.gz" : "cifar-10-binary.tar.gz")})");
        }

        byte[] Need(string name) => files[name];
        var dataset = cifar100 ? "cifar100" : "cifar10";
        var train = cifar100
            ? ParseBatch(Need("train.bin"), true, $"{path}:train.bin", expect.Cifar100Train)
            : ImageSet.Concat($"{dataset}-train", Cifar10Train.Select(f => ParseBatch(Need(f), false, $"{path}:{f}", expect.CifarBatch)).ToList());
        var test = ParseBatch(Need(testName), cifar100, $"{path}:{testName}", cifar100 ? expect.Cifar100Test : expect.CifarBatch);
        return (train with { Name = $"{dataset}-train" }, test with { Name = $"{dataset}-test" });
    }

    /// <summary>The .bin files of a directory tree or a (gzipped) tar archive, by file name.</summary>
    /// <exception cref="DataFormatException">the path is missing, an archive is corrupt (gzip CRC-32 and size checked), a .bin is a directory, or two files share a name.</exception>
    internal static Dictionary<string, byte[]> Files(string path)
    {
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var origins = new Dictionary<string, string>(StringComparer.Ordinal);
        void Add(string name, string origin, byte[] data)
        {
            if (!origins.TryAdd(name, origin))
            {
                throw new DataFormatException($"{path}: two files named {name} ({origins[name]} and {origin}); keep one CIFAR copy there");
            }

            files[name] = data;
        }

        if (Directory.Exists(path))
        {
            foreach (var directory in Directory.EnumerateDirectories(path, "*.bin", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                throw new DataFormatException($"{directory} is a directory; expected a CIFAR batch file (.bin) there");
            }

            foreach (var file in Directory.EnumerateFiles(path, "*.bin", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                Add(System.IO.Path.GetFileName(file), file, File.ReadAllBytes(file));
            }

            return files;
        }

        DataPaths.RequireFile(path, "a CIFAR archive (.tar.gz) or its extracted folder");
        try
        {
            using var tar = OpenArchive(path);
            using var reader = new TarReader(tar);
            while (reader.GetNextEntry() is { } entry)
            {
                if (entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile && entry.Name.EndsWith(".bin", StringComparison.Ordinal) && entry.DataStream is { } data)
                {
                    using var copy = new MemoryStream();
                    data.CopyTo(copy);
                    if (copy.Length != entry.Length)
                    {
                        throw new EndOfStreamException($"{entry.Name} has {copy.Length} of its {entry.Length} bytes");
                    }

                    Add(System.IO.Path.GetFileName(entry.Name), entry.Name, copy.ToArray());
                }
                else if (entry.EntryType == TarEntryType.Directory && entry.Name.TrimEnd('/').EndsWith(".bin", StringComparison.Ordinal))
                {
                    throw new DataFormatException($"{path}: {entry.Name} is a directory; expected a CIFAR batch file (.bin) there");
                }
            }
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException)
        {
            throw new DataFormatException($"{path}: corrupt or truncated archive ({e.Message})", e);
        }

        return files;
    }

    /// <summary>The tar stream of a .tar or .tar.gz file; a gzipped one is decompressed into memory with every member checked.</summary>
    private static Stream OpenArchive(string path)
    {
        var stream = File.OpenRead(path);
        var head = new byte[2];
        if (stream.Read(head) < 2 || !Gzip.IsGzip(head))
        {
            stream.Position = 0;
            return stream;
        }

        stream.Dispose();
        return Gzip.DecompressFile(path);
    }
}

/// <summary>
/// ImageNet16 (Chrabaszcz et al. 2017): Python pickles train_data_batch_1..10 and val_data, each a dict with 'data'
/// (uint8 N x 768: R, G, B planes of 16 x 16, as a numpy array) and 'labels' (1..1000). ImageNet16-120 keeps labels
/// 1..120 and uses target = label - 1, as NAS-Bench-201 does.
/// </summary>
public static class ImageNet16Reader
{
    public const int Side = 16;

    public static readonly IReadOnlyList<string> TrainFiles = Enumerable.Range(1, 10).Select(i => $"train_data_batch_{i}").ToList();

    /// <summary>
    /// The training batches and val_data of <paramref name="directory"/>. Together the batches must hold the images
    /// <paramref name="requirements"/> says (default: the official 1,281,167 training and 50,000 validation images), before
    /// the samples of labels above <paramref name="classes"/> are dropped.
    /// </summary>
    public static (ImageSet Train, ImageSet Validation) Load(string directory, int classes = 120, DataRequirements? requirements = null)
    {
        var expect = requirements ?? DataRequirements.Official;
        foreach (var folder in TrainFiles.Append("val_data").Select(f => System.IO.Path.Combine(directory, f)).Where(Directory.Exists))
        {
            throw new DataFormatException($"{folder} is a directory; expected an ImageNet16 batch file (a Python pickle) there");
        }

        var missing = TrainFiles.Append("val_data").Where(f => !File.Exists(System.IO.Path.Combine(directory, f))).ToList();
        if (missing.Count > 0)
        {
            throw new DataFormatException($"{directory}: missing {string.Join(", ", missing)}");
        }

        var batches = TrainFiles.Select(f => (Name: f, Set: ReadBatch(System.IO.Path.Combine(directory, f), classes, out var records), Records: records)).ToList();
        var total = batches.Sum(b => (long)b.Records);
        if (total != expect.ImageNet16Train)
        {
            throw new DataFormatException(string.Create(CultureInfo.InvariantCulture,
                $"{directory}: the training batches hold {total:N0} images ({string.Join(", ", batches.Select(b => $"{b.Name} {b.Records:N0}"))}), expected {expect.ImageNet16Train:N0}: a batch is truncated or not the official one"));
        }

        var valPath = System.IO.Path.Combine(directory, "val_data");
        var validation = ReadBatch(valPath, classes, out var valRecords);
        if (valRecords != expect.ImageNet16Validation)
        {
            throw new DataFormatException(string.Create(CultureInfo.InvariantCulture,
                $"{valPath}: {valRecords:N0} images, expected {expect.ImageNet16Validation:N0}: the file is truncated or not the official one"));
        }

        var train = ImageSet.Concat("imagenet16-train", batches.Select(b => b.Set).ToList());
        return (train with { Name = $"imagenet16-{classes}-train", Classes = classes }, validation with { Name = $"imagenet16-{classes}-val", Classes = classes });
    }

    /// <summary>One pickled batch, keeping the samples whose label is 1..<paramref name="classes"/>.</summary>
    public static ImageSet ReadBatch(string path, int classes) => ReadBatch(path, classes, out _);

    /// <summary>One pickled batch, keeping the samples whose label is 1..<paramref name="classes"/>; <paramref name="records"/> is how many it held.</summary>
    public static ImageSet ReadBatch(string path, int classes, out int records)
    {
        DataPaths.RequireFile(path, "an ImageNet16 batch file (a Python pickle)");
        object loaded;
        try
        {
            using var stream = File.OpenRead(path);
            using var unpickler = new Unpickler();
            loaded = unpickler.load(stream);
        }
        catch (Exception e) when (e is PickleException or InvalidOperationException or IOException or InvalidCastException or ArgumentException or FormatException or OverflowException)
        {
            throw new DataFormatException($"{path}: not a readable ImageNet16 pickle ({e.Message})", e);
        }

        if (loaded is not System.Collections.IDictionary dict || !dict.Contains("data") || !dict.Contains("labels"))
        {
            throw new DataFormatException($"{path}: expected a dict with 'data' and 'labels'");
        }

        var array = dict["data"] as NumpyArray ?? throw new DataFormatException($"{path}: 'data' is not a numpy uint8 array");
        int[] labels;
        try
        {
            labels = ((System.Collections.IEnumerable)dict["labels"]!).Cast<object>().Select(Convert.ToInt32).ToArray();
        }
        catch (Exception e) when (e is InvalidCastException or FormatException or OverflowException or NullReferenceException)
        {
            throw new DataFormatException($"{path}: 'labels' is not a list of integers ({e.Message})", e);
        }

        var sample = 3 * Side * Side;
        if (array.Shape.Length != 2 || array.Shape[1] != sample || array.Shape[0] != labels.Length || array.Data.Length != (long)labels.Length * sample)
        {
            throw new DataFormatException($"{path}: 'data' has shape [{string.Join(", ", array.Shape)}] ({array.Data.Length} bytes) for {labels.Length} labels; expected [N, {sample}]");
        }

        records = labels.Length;
        var keep = Enumerable.Range(0, labels.Length).Where(i => labels[i] >= 1 && labels[i] <= classes).ToList();
        var full = new ImageSet(path, 3, Side, Side, classes, array.Data, labels.Select(l => Math.Clamp(l - 1, 0, classes - 1)).ToArray());
        return full.Select(keep, System.IO.Path.GetFileName(path));
    }

    static ImageNet16Reader()
    {
        Unpickler.registerConstructor("numpy.core.multiarray", "_reconstruct", new NumpyArrayConstructor());
        Unpickler.registerConstructor("numpy._core.multiarray", "_reconstruct", new NumpyArrayConstructor());
        Unpickler.registerConstructor("numpy", "dtype", new NumpyDtypeConstructor());
    }

    /// <summary>What numpy.core.multiarray._reconstruct builds; the BUILD opcode fills it through __setstate__.</summary>
    public sealed class NumpyArray
    {
        public int[] Shape { get; private set; } = [];

        public byte[] Data { get; private set; } = [];

        // Called by the unpickler with numpy's state tuple: (version, shape, dtype, is_fortran, raw data).
        public void __setstate__(object[] state)
        {
            var offset = state.Length == 5 ? 1 : 0;
            Shape = ((object[])state[offset]).Select(Convert.ToInt32).ToArray();
            if (state[offset + 1] is NumpyDtype { IsUInt8: false } dtype)
            {
                throw new PickleException($"only uint8 arrays are supported, not '{dtype.Code}'");
            }

            Data = state[offset + 3] switch
            {
                byte[] bytes => bytes,
                string text => Encoding.Latin1.GetBytes(text), // Python 2 str, read with encoding='latin1' as NB201 does
                _ => throw new PickleException("array data is neither bytes nor a latin-1 string"),
            };
        }
    }

    public sealed class NumpyDtype(string code)
    {
        public string Code { get; } = code;

        public bool IsUInt8 => Code is "u1" or "uint8" or "|u1";

        public void __setstate__(object[] state)
        {
        }
    }

    private sealed class NumpyArrayConstructor : IObjectConstructor
    {
        public object construct(object[] args) => new NumpyArray();
    }

    private sealed class NumpyDtypeConstructor : IObjectConstructor
    {
        public object construct(object[] args) => new NumpyDtype(args.Length > 0 ? args[0]?.ToString() ?? string.Empty : string.Empty);
    }
}
