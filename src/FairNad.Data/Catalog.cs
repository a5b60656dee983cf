namespace FairNad.Data;

/// <summary>The user asked for data that is not here and cannot be fetched automatically; the message says what to place where.</summary>
public sealed class DataUnavailableException(string message) : Exception(message);

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

    /// <summary>Loads a dataset's splits from the data directory (downloading nothing; see <see cref="DownloadAsync"/>).</summary>
    /// <exception cref="DataUnavailableException">the files are not there; the message says which to place where.</exception>
    public static DatasetSplits Load(string dataset, string dataDirectory, bool allowEmbedded = true)
    {
        switch (dataset)
        {
            case "fashion-mnist":
                foreach (var directory in FashionMnistDirectories(dataDirectory))
                {
                    if (FashionMnistFiles.All(f => File.Exists(Path.Combine(directory, f.FileName))))
                    {
                        var train = IdxReader.Read(Path.Combine(directory, "train-images-idx3-ubyte.gz"), Path.Combine(directory, "train-labels-idx1-ubyte.gz"), "fashion-mnist-train");
                        var test = IdxReader.Read(Path.Combine(directory, "t10k-images-idx3-ubyte.gz"), Path.Combine(directory, "t10k-labels-idx1-ubyte.gz"), "fashion-mnist-test");
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
                var archive = Path.Combine(dataDirectory, (cifar100 ? Cifar100 : Cifar10).FileName);
                var folder = Path.Combine(dataDirectory, cifar100 ? "cifar-100-binary" : "cifar-10-batches-bin");
                var source = Directory.Exists(folder) ? folder : File.Exists(archive) ? archive
                    : throw new DataUnavailableException($"{dataset}: place {(cifar100 ? Cifar100 : Cifar10).FileName} (or its extracted folder) in {dataDirectory}, or run `fairnad data download {dataset}` ({(cifar100 ? Cifar100 : Cifar10).Url})");
                var (train, test) = CifarReader.Load(source, cifar100);
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
                if (!Directory.Exists(folder))
                {
                    throw new DataUnavailableException(
                        $"imagenet16-120 needs a manual download (Chrabaszcz et al. 2017, https://image-net.org/download-images, 'Downsampled ImageNet 16x16'): place train_data_batch_1..10 and val_data in {folder}");
                }

                var (train, val) = ImageNet16Reader.Load(folder);
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
            "imagenet16-120" => throw new DataUnavailableException($"imagenet16-120 cannot be downloaded automatically: place train_data_batch_1..10 and val_data in {Path.Combine(dataDirectory, "imagenet16")}"),
            _ => throw new DataUnavailableException($"unknown dataset '{dataset}'; known: {string.Join(", ", Names)}"),
        };
        var downloader = new Downloader(http);
        var paths = new List<string>();
        foreach (var file in files)
        {
            paths.Add(await downloader.FetchAsync(file, folder, progress, cancel).ConfigureAwait(false));
        }

        return paths;
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
            return IdxReader.Gunzip(copy.ToArray(), name);
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
