using System.Security.Cryptography;

namespace FairNad.Data.Tests;

public sealed class ReaderTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("fairnad-data-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Write(string name, byte[] data)
    {
        var path = Path.Combine(_directory, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, data);
        return path;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void IdxRead_GzippedOrPlain_SameImagesAndLabels(bool gzip)
    {
        var (images, labels) = Formats.Idx(12, 28, i => i % 10);

        var set = IdxReader.Read(Write("i", gzip ? Formats.Gzip(images) : images), Write("l", gzip ? Formats.Gzip(labels) : labels), "idx");

        Assert.Equal((12, 1, 28, 28), (set.Count, set.Channels, set.Height, set.Width));
        Assert.Equal(images[16..], set.Pixels);
        Assert.Equal(Enumerable.Range(0, 12).Select(i => i % 10), set.Labels);
    }

    [Fact]
    public void IdxRead_TruncatedImages_ErrorNamesFileAndSizes()
    {
        var (images, labels) = Formats.Idx(12, 28, i => i % 10);
        var path = Write("short", images[..^100]);

        var error = Assert.Throws<DataFormatException>(() => IdxReader.Read(path, Write("l", labels), "idx"));

        Assert.Contains(path, error.Message);
        Assert.Contains("truncated", error.Message);
    }

    [Fact]
    public void IdxRead_CorruptGzip_Reported()
    {
        var (images, labels) = Formats.Idx(12, 28, i => i % 10);
        var gz = Formats.Gzip(images);
        var path = Write("broken.gz", gz[..(gz.Length / 2)]);

        Assert.Contains("corrupt or truncated gzip", Assert.Throws<DataFormatException>(() => IdxReader.Read(path, Write("l", labels), "idx")).Message);
    }

    [Fact]
    public void CifarLoad_DirectoryAndTarGz_SameSets()
    {
        var files = CifarReader.Cifar10Train.Select((f, b) => (Name: $"cifar-10-batches-bin/{f}", Data: Formats.Cifar([b, 9 - b, 3], false, b)))
            .Append(("cifar-10-batches-bin/test_batch.bin", Formats.Cifar([7, 1, 4], false, 9))).ToList();
        foreach (var (name, data) in files)
        {
            Write(Path.Combine("extracted", name), data);
        }

        var archive = Write("cifar-10-binary.tar.gz", Formats.Gzip(Formats.Tar(files)));

        var (train, test) = CifarReader.Load(Path.Combine(_directory, "extracted"), cifar100: false, Formats.Small(cifarBatch: 3));
        var (train2, test2) = CifarReader.Load(archive, cifar100: false, Formats.Small(cifarBatch: 3));

        Assert.Equal(15, train.Count);
        Assert.Equal([0, 9, 3, 1, 8, 3], train.Labels[..6]);
        Assert.Equal([7, 1, 4], test.Labels);
        Assert.Equal((byte)((1 * 31) + 7 + 5), train.Sample(4)[5]);
        Assert.Equal(train.Pixels, train2.Pixels);
        Assert.Equal(test.Labels, test2.Labels);
    }

    [Fact]
    public void CifarLoad_Cifar100_UsesFineLabels()
    {
        var path = Write("c100.tar", Formats.Tar([("cifar-100-binary/train.bin", Formats.Cifar([42, 99, 0], true, 1)), ("cifar-100-binary/test.bin", Formats.Cifar([57], true, 2))]));

        var (train, test) = CifarReader.Load(path, cifar100: true, Formats.Small(cifar100Train: 3, cifar100Test: 1));

        Assert.Equal([42, 99, 0], train.Labels);
        Assert.Equal(100, train.Classes);
        Assert.Equal([57], test.Labels);
    }

    [Fact]
    public void CifarParse_TruncatedBatch_ErrorNamesSource()
    {
        var error = Assert.Throws<DataFormatException>(() => CifarReader.ParseBatch(Formats.Cifar([1, 2], false, 0)[..^1], false, "data_batch_3.bin"));

        Assert.Contains("data_batch_3.bin: 6145 bytes is not a whole number of 3073-byte CIFAR-10 records", error.Message);
    }

    [Fact]
    public void CifarLoad_MissingBatch_ErrorNamesIt()
    {
        var path = Write("partial.tar", Formats.Tar([("cifar-10-batches-bin/data_batch_1.bin", Formats.Cifar([1], false, 0))]));

        Assert.Contains("no data_batch_2.bin", Assert.Throws<DataFormatException>(() => CifarReader.Load(path, false)).Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ImageNet16ReadBatch_NumpyPickle_KeepsLabels1To120AsTargets(bool python2)
    {
        int[] labels = [1, 500, 120, 121, 7];
        var pixels = Enumerable.Range(0, labels.Length * 768).Select(i => (byte)(i % 251)).ToArray();
        var path = Write("train_data_batch_1", Formats.ImageNet16Pickle(pixels, labels, python2));

        var set = ImageNet16Reader.ReadBatch(path, 120);

        Assert.Equal([0, 119, 6], set.Labels);
        Assert.Equal((3, 16, 16, 120), (set.Channels, set.Height, set.Width, set.Classes));
        Assert.Equal(pixels.AsSpan(0, 768).ToArray(), set.Sample(0).ToArray());
        Assert.Equal(pixels.AsSpan(2 * 768, 768).ToArray(), set.Sample(1).ToArray());
        Assert.Equal(pixels.AsSpan(4 * 768, 768).ToArray(), set.Sample(2).ToArray());
    }

    [Fact]
    public void ImageNet16ReadBatch_NotAPickle_ErrorNamesFile()
    {
        var path = Write("val_data", "not a pickle"u8.ToArray());

        Assert.Contains(path, Assert.Throws<DataFormatException>(() => ImageNet16Reader.ReadBatch(path, 120)).Message);
    }

    [Fact]
    public void Stratified_HalfOfEachClass_DeterministicAndDisjoint()
    {
        var set = new ImageSet("s", 1, 1, 1, 3, new byte[90], Enumerable.Range(0, 90).Select(i => i % 3).ToArray());

        var (kept, held) = Splits.Stratified(set, 0.2, 5, "a", "b");
        var (kept2, _) = Splits.Stratified(set, 0.2, 5, "a", "b");
        var (kept3, _) = Splits.Stratified(set, 0.2, 6, "a", "b");

        Assert.Equal([24, 24, 24], kept.ClassCounts());
        Assert.Equal([6, 6, 6], held.ClassCounts());
        Assert.Equal(kept.Labels, kept2.Labels);
        Assert.NotEqual(Splits.StratifiedIndices(set.Labels, 3, 0.2, 5).Held, Splits.StratifiedIndices(set.Labels, 3, 0.2, 6).Held);
        Assert.Empty(Splits.StratifiedIndices(set.Labels, 3, 0.2, 5).Held.Intersect(Splits.StratifiedIndices(set.Labels, 3, 0.2, 5).Kept));
        Assert.Equal(72, kept3.Count);
    }

    [Fact]
    public void EmbeddedSubset_Load_BalancedAndPinnedContent()
    {
        var (train, test) = EmbeddedSubset.Load();

        Assert.All(train.ClassCounts(), c => Assert.Equal(1000, c));
        Assert.All(test.ClassCounts(), c => Assert.Equal(200, c));
        var (images, labels) = EmbeddedSubset.ToIdx(train);
        Assert.Equal("fccaf42533ba7f06c1f5f90cc7a1d6bedf3c4a2363d35f88bcaa1ba55a1626f2", Convert.ToHexStringLower(SHA256.HashData(images)));
        Assert.Equal("e29ea73bc644153f616061c6c6f49e00f2b977d9065106576dba638443966872", Convert.ToHexStringLower(SHA256.HashData(labels)));
        Assert.Equal("ece1962bb998313c3cd44942cb040beed6b35b4e8c3ee4d4e71d50055b16f35c", Convert.ToHexStringLower(SHA256.HashData(EmbeddedSubset.ToIdx(test).Images)));
    }

    [Fact]
    public void CatalogLoad_FashionMnistWithoutFullFiles_UsesEmbeddedAndSaysSo()
    {
        var splits = DatasetCatalog.Load("fashion-mnist", _directory);

        if (Directory.Exists("/usr/share/datasets/fashion-mnist"))
        {
            Assert.StartsWith("full Fashion-MNIST", splits.Source);
            return;
        }

        Assert.StartsWith("embedded Fashion-MNIST subset", splits.Source);
        Assert.Equal((9000, 1000, 2000), (splits.Train.Count, splits.Validation.Count, splits.Test.Count));
        Assert.All(splits.Validation.ClassCounts(), c => Assert.Equal(100, c));
    }

    [Fact]
    public void CatalogLoad_FashionMnistInDataDirectory_UsesTheFullFiles()
    {
        var (images, labels) = Formats.Idx(100, 28, i => i % 10);
        foreach (var prefix in new[] { "train", "t10k" })
        {
            Write($"fashion-mnist/{prefix}-images-idx3-ubyte.gz", Formats.Gzip(images));
            Write($"fashion-mnist/{prefix}-labels-idx1-ubyte.gz", Formats.Gzip(labels));
        }

        var splits = DatasetCatalog.Load("fashion-mnist", _directory, requirements: Formats.Small(fashionTrain: 100, fashionTest: 100));

        Assert.Equal($"full Fashion-MNIST from {Path.Combine(_directory, "fashion-mnist")}", splits.Source);
        Assert.Equal((90, 10, 100), (splits.Train.Count, splits.Validation.Count, splits.Test.Count));
    }

    [Theory]
    [InlineData("cifar10", "place cifar-10-binary.tar.gz")]
    [InlineData("cifar100", "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz")]
    [InlineData("imagenet16-120", "manual download")]
    [InlineData("svhn", "unknown dataset 'svhn'")]
    public void CatalogLoad_Missing_SaysWhatToPlaceWhere(string dataset, string expected)
    {
        var error = Assert.Throws<DataUnavailableException>(() => DatasetCatalog.Load(dataset, _directory));

        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void CatalogLoad_Cifar10_HalvesTrainForValidation()
    {
        var labels = Enumerable.Range(0, 20).Select(i => i % 10).ToArray();
        var files = CifarReader.Cifar10Train.Select(f => ($"cifar-10-batches-bin/{f}", Formats.Cifar(labels, false, 1))).Append(("cifar-10-batches-bin/test_batch.bin", Formats.Cifar(labels, false, 2)));
        Write("cifar-10-binary.tar.gz", Formats.Gzip(Formats.Tar(files)));

        var splits = DatasetCatalog.Load("cifar10", _directory, requirements: Formats.Small(cifarBatch: 20));

        Assert.Equal((50, 50, 20), (splits.Train.Count, splits.Validation.Count, splits.Test.Count));
        Assert.All(splits.Validation.ClassCounts(), c => Assert.Equal(5, c));
    }
}
