namespace FairNad.Data;

/// <summary>The user asked for data that is not here and cannot be fetched automatically; the message says what to place where.</summary>
public sealed class DataUnavailableException(string message) : Exception(message);

/// <summary>
/// What the catalog requires of a dataset's files before it uses them: the number of records in every file and, for the
/// official downloads (<see cref="DatasetCatalog.FashionMnistFiles"/>, <see cref="DatasetCatalog.Cifar10"/>,
/// <see cref="DatasetCatalog.Cifar100"/>), their checksum. <see cref="Official"/> describes the published datasets;
/// tests that write small files in the same formats pass their own counts and no checksums.
/// </summary>
/// <param name="CifarBatch">Records in each CIFAR-10 batch (data_batch_1..5.bin, test_batch.bin).</param>
/// <param name="Cifar100Train">Records in CIFAR-100's train.bin.</param>
/// <param name="Cifar100Test">Records in CIFAR-100's test.bin.</param>
/// <param name="FashionMnistTrain">Images (and labels) in Fashion-MNIST's train files.</param>
/// <param name="FashionMnistTest">Images (and labels) in Fashion-MNIST's t10k files.</param>
/// <param name="ImageNet16Train">Images in ImageNet16's ten training batches together.</param>
/// <param name="ImageNet16Validation">Images in ImageNet16's val_data.</param>
/// <param name="Checksums">Whether an official download must match the catalog's checksum.</param>
public sealed record DataRequirements(
    int CifarBatch,
    int Cifar100Train,
    int Cifar100Test,
    int FashionMnistTrain,
    int FashionMnistTest,
    int ImageNet16Train,
    int ImageNet16Validation,
    bool Checksums = true)
{
    /// <summary>The published datasets.</summary>
    public static DataRequirements Official { get; } = new(10_000, 50_000, 10_000, 60_000, 10_000, 1_281_167, 50_000);
}

/// <summary>
/// The datasets FairNad knows, their canonical downloads, and the splits each metric uses:
/// <list type="bullet">
/// <item>cifar10: train = a seeded class-stratified half of the 50,000 training images, validation = the other half
/// (NAS-Bench-201's cifar10-valid protocol), test = the 10,000 test images.</item>
/// <item>cifar100, imagenet16-120: train = all training images; validation and test = seeded class-stratified halves of the
/// test (ImageNet16: val) set, as NAS-Bench-201 does.</item>
/// <item>fashion-mnist: train = 90% of the training images, validation = a seeded class-stratified 10%, test = the test set.
/// Without the full files, the embedded subset (10,000 train / 2,000 test) is split the same way.</item>
/// </list>
/// NAS-Bench-201's own split files are not available offline, so the indices differ from theirs; the proportions match.
/// </summary>
public static class DatasetCatalog
{
    public const int SplitSeed = 201;

    public static readonly IReadOnlyList<string> Names = ["fashion-mnist", "cifar10", "cifar100", "imagenet16-120"];

    public static readonly IReadOnlyList<RemoteFile> FashionMnistFiles =
    [
        new("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-images-idx3-ubyte.gz", "train-images-idx3-ubyte.gz", "sha256:b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"),
        new("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte.gz", "sha256:0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"),
        new("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz", "sha256:cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"),
        new("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "sha256:8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"),
    ];

    public static readonly RemoteFile Cifar10 = new("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", "cifar-10-binary.tar.gz", "md5:c32a1d4ab5d03f1284b67883e8d87530");

    public static readonly RemoteFile Cifar100 = new("https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz", "cifar-100-binary.tar.gz", "md5:03b5dce01913d631647c71ecec9e9cb8");

    /// <summary>Where datasets live: the parameter, else FAIRNAD_DATA, else the user's cache.</summary>
    public static string DataDirectory(string? configured = null)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return Path.GetFullPath(configured);
        }

        if (Environment.GetEnvironmentVariable("FAIRNAD_DATA") is { Length: > 0 } fromEnvironment)
        {
            return Path.GetFullPath(fromEnvironment);
        }

        var cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(cache, "fairnad", "datasets");
    }

    /// <summary>Directories searched for the full Fashion-MNIST, in order.</summary>
    public static IReadOnlyList<string> FashionMnistDirectories(string dataDirectory) =>
        [Path.Combine(dataDirectory, "fashion-mnist"), "/usr/share/datasets/fashion-mnist"];

    /// <summary>
    /// Loads a dataset's splits from the data directory (downloading nothing; see <see cref="DownloadAsync"/>), checking
    /// each file's record count and each official download's checksum (<paramref name="requirements"/>, default
    /// <see cref="DataRequirements.Official"/>). Fashion-MNIST falls back to the embedded subset only when no
    /// Fashion-MNIST file is there at all: a partial set, a directory in a file's place or a bad file is an error.
    /// </summary>
    /// <exception cref="DataUnavailableException">the files are not there; the message says which to place where.</exception>
    /// <exception cref="DataFormatException">a file is there but wrong (a directory, corrupt, truncated, a checksum mismatch); the message names it.</exception>
    public static DatasetSplits Load(string dataset, string dataDirectory, bool allowEmbedded = true, DataRequirements? requirements = null)
    {
        var expect = requirements ?? DataRequirements.Official;
        if (File.Exists(dataDirectory))
        {
            throw new DataFormatException($"{dataDirectory} is a file; expected the data directory (a folder of datasets) there");
        }

        switch (dataset)
        {
            case "fashion-mnist":
                foreach (var directory in FashionMnistDirectories(dataDirectory))
                {
                    if (FashionMnistIn(directory) is { } files)
                    {
                        var train = ReadIdx(files[0], files[1], "fashion-mnist-train", expect.FashionMnistTrain, expect);
                        var test = ReadIdx(files[2], files[3], "fashion-mnist-test", expect.FashionMnistTest, expect);
                        return HoldOut(dataset, train, test, $"full Fashion-MNIST from {directory}");
                    }
                }

                if (!allowEmbedded)
                {
                    throw new DataUnavailableException($"the full Fashion-MNIST is not in {string.Join(" or ", FashionMnistDirectories(dataDirectory))}; run `fairnad data download fashion-mnist`");
                }

                var (subsetTrain, subsetTest) = EmbeddedSubset.Load();
                return HoldOut(dataset, subsetTrain, subsetTest, "embedded Fashion-MNIST subset (10,000 train / 2,000 test; the full set was not found)");

            case "cifar10":
            case "cifar100":
            {
                var cifar100 = dataset == "cifar100";
                var official = cifar100 ? Cifar100 : Cifar10;
                var archive = Path.Combine(dataDirectory, official.FileName);
                var folder = Path.Combine(dataDirectory, cifar100 ? "cifar-100-binary" : "cifar-10-batches-bin");
                if (File.Exists(folder))
                {
                    throw new DataFormatException($"{folder} is a file; expected the extracted {dataset} folder (or nothing) there");
                }

                if (Directory.Exists(archive))
                {
                    throw new DataFormatException($"{archive} is a directory; expected the official {official.FileName} there ({official.Url})");
                }

                var source = Directory.Exists(folder) ? folder : File.Exists(archive) ? archive
                    : throw new DataUnavailableException(
                        $"{dataset}: place {official.FileName} from {official.Url} (or the folder it extracts to, {Path.GetFileName(folder)}/) in {dataDirectory}, or run `fairnad data download {dataset}`");
                if (source == archive)
                {
                    VerifyChecksum(archive, official, dataset, expect);
                }

                var (train, test) = CifarReader.Load(source, cifar100, expect);
                if (!cifar100)
                {
                    var (kept, held) = Splits.Stratified(train, 0.5, SplitSeed, "cifar10-train", "cifar10-valid");
                    return new DatasetSplits(dataset, kept, held, test, source, "train and validation: seeded stratified halves of the 50,000 training images; test: the test set");
                }

                var (validation, testHalf) = Splits.Stratified(test, 0.5, SplitSeed, "cifar100-valid", "cifar100-test");
                return new DatasetSplits(dataset, train, validation, testHalf, source, "train: all training images; validation and test: seeded stratified halves of the test set");
            }

            case "imagenet16-120":
            {
                var folder = Path.Combine(dataDirectory, "imagenet16");
                if (File.Exists(folder))
                {
                    throw new DataFormatException($"{folder} is a file; expected a folder holding train_data_batch_1..10 and val_data there");
                }

                if (!Directory.Exists(folder))
                {
                    throw new DataUnavailableException(
                        $"imagenet16-120 needs a manual download (Chrabaszcz et al. 2017, https://image-net.org/download-images, 'Downsampled ImageNet 16x16'): place train_data_batch_1..10 and val_data in {folder}");
                }

                var (train, val) = ImageNet16Reader.Load(folder, requirements: expect);
                var (validation, test) = Splits.Stratified(val, 0.5, SplitSeed, "imagenet16-120-valid", "imagenet16-120-test");
                return new DatasetSplits(dataset, train, validation, test, folder, "train: training batches with labels 1..120; validation and test: seeded stratified halves of val_data");
            }

            default:
                throw new DataUnavailableException($"unknown dataset '{dataset}'; known: {string.Join(", ", Names)}");
        }
    }

    /// <summary>Downloads a dataset's files into the data directory (checksummed, atomic, resumable).</summary>
    public static async Task<IReadOnlyList<string>> DownloadAsync(string dataset, string dataDirectory, HttpClient http, IProgress<DownloadProgress>? progress = null, CancellationToken cancel = default)
    {
        var (files, folder) = dataset switch
        {
            "fashion-mnist" => (FashionMnistFiles, Path.Combine(dataDirectory, "fashion-mnist")),
            "cifar10" => ((IReadOnlyList<RemoteFile>)[Cifar10], dataDirectory),
            "cifar100" => ([Cifar100], dataDirectory),
            "imagenet16-120" => throw new DataUnavailableException(
                $"imagenet16-120 cannot be downloaded automatically: ImageNet's terms require a request per user (https://image-net.org/download-images, 'Downsampled ImageNet 16x16', Chrabaszcz et al. 2017); place train_data_batch_1..10 and val_data in {Path.Combine(dataDirectory, "imagenet16")}"),
            _ => throw new DataUnavailableException($"unknown dataset '{dataset}'; known: {string.Join(", ", Names)}"),
        };
        foreach (var path in new[] { dataDirectory, folder }.Distinct().Where(File.Exists))
        {
            throw new DataFormatException($"{path} is a file; expected a directory to download {dataset} into");
        }

        var downloader = new Downloader(http);
        var paths = new List<string>();
        foreach (var file in files)
        {
            paths.Add(await downloader.FetchAsync(file, folder, progress, cancel).ConfigureAwait(false));
        }

        return paths;
    }

    /// <summary>
    /// The paths of the four official Fashion-MNIST files in <paramref name="directory"/> (train images, train labels,
    /// test images, test labels), or null when none of them (gzipped or not) is there.
    /// </summary>
    /// <exception cref="DataFormatException">the directory is a file, a file's name is taken by a directory, or the set is incomplete.</exception>
    private static string[]? FashionMnistIn(string directory)
    {
        if (File.Exists(directory))
        {
            throw new DataFormatException($"{directory} is a file; expected a folder holding the Fashion-MNIST .gz files (or nothing) there");
        }

        if (!Directory.Exists(directory))
        {
            return null;
        }

        var paths = FashionMnistFiles.Select(f => Path.Combine(directory, f.FileName)).ToArray();
        foreach (var path in paths.Concat(paths.Select(p => p[..^3])).Where(Directory.Exists))
        {
            throw new DataFormatException($"{path} is a directory; expected the Fashion-MNIST file {Path.GetFileName(path)} there");
        }

        var present = paths.Where(File.Exists).ToList();
        var unpacked = paths.Select(p => p[..^3]).Where(File.Exists).ToList();
        if (present.Count == paths.Length)
        {
            return paths;
        }

        if (present.Count == 0 && unpacked.Count == 0)
        {
            return null;
        }

        var missing = paths.Where(p => !File.Exists(p)).Select(Path.GetFileName);
        var hint = unpacked.Count > 0 ? $" ({string.Join(", ", unpacked.Select(Path.GetFileName))} must stay gzipped, as downloaded)" : string.Empty;
        throw new DataUnavailableException(
            $"{directory} holds part of Fashion-MNIST but not {string.Join(", ", missing)}{hint}; the full set needs all four files: run `fairnad data download fashion-mnist`, or remove the folder to use the embedded subset");
    }

    private static ImageSet ReadIdx(string images, string labels, string name, int expected, DataRequirements requirements)
    {
        foreach (var path in new[] { images, labels })
        {
            VerifyChecksum(path, FashionMnistFiles.Single(f => f.FileName == Path.GetFileName(path)), "fashion-mnist", requirements);
        }

        var set = IdxReader.Read(images, labels, name);
        if (set.Count != expected)
        {
            throw new DataFormatException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{images}: {set.Count:N0} images, expected {expected:N0}: the file is truncated or not the official one"));
        }

        return set;
    }

    /// <summary>An official download must have the catalog's checksum (unless <paramref name="requirements"/> waives it).</summary>
    private static void VerifyChecksum(string path, RemoteFile official, string dataset, DataRequirements requirements)
    {
        if (!requirements.Checksums)
        {
            return;
        }

        var actual = Downloader.Checksum(path, official.Checksum);
        if (actual != official.Checksum)
        {
            throw new DataFormatException(
                $"{path}: checksum {actual}, expected {official.Checksum} (the official {official.FileName}): the file is corrupt or not the official one; delete it and run `fairnad data download {dataset}`");
        }
    }

    private static DatasetSplits HoldOut(string dataset, ImageSet train, ImageSet test, string source)
    {
        var (kept, held) = Splits.Stratified(train, 0.1, SplitSeed, $"{dataset}-train", $"{dataset}-valid");
        return new DatasetSplits(dataset, kept, held, test with { Name = $"{dataset}-test" }, source, "train: 90% of the training images; validation: a seeded stratified 10% of them; test: the test set");
    }
}

/// <summary>
/// The Fashion-MNIST subset committed in this assembly: 1,000 training and 200 test images per class, chosen by
/// <see cref="Splits.PerClass"/> with seed <see cref="Seed"/> from the official files (see Embedded/PROVENANCE.md).
/// </summary>
public static class EmbeddedSubset
{
    public const int Seed = 20_261_128;
    public const int TrainPerClass = 1000;
    public const int TestPerClass = 200;

    public static (ImageSet Train, ImageSet Test) Load()
    {
        byte[] Resource(string name)
        {
            using var stream = typeof(EmbeddedSubset).Assembly.GetManifestResourceStream($"FairNad.Data.Embedded.{name}")
                ?? throw new DataFormatException($"embedded resource {name} is missing from FairNad.Data");
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            return Gzip.Decompress(copy.ToArray(), name);
        }

        var train = IdxReader.Parse(Resource("train-images-idx3-ubyte.gz"), Resource("train-labels-idx1-ubyte.gz"), "fashion-mnist-subset-train", 10, "embedded train images", "embedded train labels");
        var test = IdxReader.Parse(Resource("t10k-images-idx3-ubyte.gz"), Resource("t10k-labels-idx1-ubyte.gz"), "fashion-mnist-subset-test", 10, "embedded test images", "embedded test labels");
        return (train, test);
    }

    /// <summary>Builds the subset from the full files (what produced the embedded copy).</summary>
    public static (ImageSet Train, ImageSet Test) Create(ImageSet fullTrain, ImageSet fullTest) =>
        (Splits.PerClass(fullTrain, TrainPerClass, Seed, "fashion-mnist-subset-train"), Splits.PerClass(fullTest, TestPerClass, Seed, "fashion-mnist-subset-test"));

    /// <summary>IDX bytes (uncompressed) of a greyscale set.</summary>
    public static (byte[] Images, byte[] Labels) ToIdx(ImageSet set)
    {
        var images = new byte[16 + set.Pixels.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(images, 0x0803);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(4), set.Count);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(8), set.Height);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(12), set.Width);
        set.Pixels.CopyTo(images, 16);
        var labels = new byte[8 + set.Count];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(labels, 0x0801);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(labels.AsSpan(4), set.Count);
        for (var i = 0; i < set.Count; i++)
        {
            labels[8 + i] = (byte)set.Labels[i];
        }

        return (images, labels);
    }
}
