using System.IO.Compression;
using System.Text;

namespace FairNad.Data.Tests;

/// <summary>Corrupt, truncated and misplaced files are errors that name the file and say what is wrong, never data.</summary>
public sealed class IntegrityTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("fairnad-integrity-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Write(string name, byte[] data)
    {
        var path = Path.Combine(_directory, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, data);
        return path;
    }

    /// <summary>A CIFAR-10 tar with <paramref name="records"/> records per batch; batch <paramref name="shortBatch"/> (if any) holds half.</summary>
    private static byte[] CifarTar(int records, string? shortBatch = null) => Formats.Tar(CifarReader.Cifar10Train.Append("test_batch.bin").Select((f, b) =>
        ($"cifar-10-batches-bin/{f}", Formats.Cifar(Enumerable.Range(0, f == shortBatch ? records / 2 : records).Select(i => (i + b) % 10).ToArray(), false, b))));

    [Fact]
    public void Crc32_CheckValue_MatchesTheStandard()
    {
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));
        Assert.Equal(Crc32.Compute("123456789"u8), Crc32.Append(Crc32.Compute("1234"u8), "56789"u8));
    }

    [Fact]
    public void Decompress_MultipleMembers_ConcatenatedAndEachChecked()
    {
        var first = Encoding.ASCII.GetBytes(new string('a', 5000));
        var second = Enumerable.Range(0, 70_000).Select(i => (byte)(i * 7)).ToArray();
        var both = Formats.Gzip(first).Concat(Formats.Gzip(second, CompressionLevel.NoCompression)).ToArray();

        Assert.Equal(first.Concat(second), Gzip.Decompress(both, "two.gz"));

        var badFirstCrc = Formats.FlipBit(both, Formats.Gzip(first).Length - 8);
        var error = Assert.Throws<DataFormatException>(() => Gzip.Decompress(badFirstCrc, "two.gz"));
        Assert.StartsWith("two.gz: corrupt or truncated gzip data: member 1 decompresses to 5000 bytes with CRC-32", error.Message);
    }

    [Fact]
    public void DecompressFile_LargeMember_ReadInManyChunksAndChecked()
    {
        var random = new Random(7);
        var data = new byte[3_000_000];
        random.NextBytes(data.AsSpan(0, 1_000_000));
        var gz = Formats.Gzip(data);
        var path = Write("large.gz", gz);
        var corrupt = Write("large-corrupt.gz", Formats.FlipBit(gz, -7));

        using var decompressed = Gzip.DecompressFile(path);

        Assert.Equal(data, decompressed.ToArray());
        Assert.Contains("CRC-32 mismatch: member 1 decompresses to 3000000 bytes", Assert.Throws<DataFormatException>(() => Gzip.DecompressFile(corrupt)).Message);
    }

    [Fact]
    public void Decompress_TrailingGarbage_Reported()
    {
        var data = Formats.Gzip("hello"u8.ToArray()).Concat("junk"u8.ToArray()).ToArray();

        var error = Assert.Throws<DataFormatException>(() => Gzip.Decompress(data, "x.gz"));

        Assert.Equal("x.gz: 4 bytes of trailing data after gzip member 1 (not another gzip member)", error.Message);
    }

    [Fact]
    public void IdxRead_FlippedBitInGzipMember_CrcErrorNamesFile()
    {
        var (images, labels) = Formats.Idx(12, 28, i => i % 10);
        var gz = Formats.Gzip(images, CompressionLevel.NoCompression);
        var path = Write("train-images-idx3-ubyte.gz", Formats.FlipBit(gz, gz.Length / 2));

        var error = Assert.Throws<DataFormatException>(() => IdxReader.Read(path, Write("l", labels), "idx"));

        Assert.StartsWith($"{path}: corrupt or truncated gzip data, CRC-32 mismatch: member 1 decompresses to {images.Length} bytes with CRC-32 ", error.Message);
        Assert.Matches($"but its trailer says {images.Length} bytes with CRC-32 [0-9a-f]{{8}}$", error.Message);
    }

    [Fact]
    public void IdxRead_FlippedBitInTrailerCrc_CrcError()
    {
        var (images, labels) = Formats.Idx(12, 28, i => i % 10);
        var path = Write("i.gz", Formats.FlipBit(Formats.Gzip(images), -6));

        Assert.Contains("CRC-32 mismatch", Assert.Throws<DataFormatException>(() => IdxReader.Read(path, Write("l", labels), "idx")).Message);
    }

    [Fact]
    public void IdxRead_LabelHeaderLongerThanFile_ErrorNamesLabelFile()
    {
        var (images, labels) = Formats.Idx(12, 28, i => i % 10);
        var path = Write("labels", labels[..^2]);

        var error = Assert.Throws<DataFormatException>(() => IdxReader.Read(Write("images", images), path, "idx"));

        Assert.Equal($"{path}: header says 12 labels (20 bytes) but the file has 18 bytes (truncated?)", error.Message);
    }

    [Fact]
    public void IdxRead_DirectoryInPlaceOfFile_ErrorNamesIt()
    {
        var (_, labels) = Formats.Idx(2, 28, i => i);
        var directory = Directory.CreateDirectory(Path.Combine(_directory, "images.gz")).FullName;

        var error = Assert.Throws<DataFormatException>(() => IdxReader.Read(directory, Write("l", labels), "idx"));

        Assert.Equal($"{directory} is a directory; expected an IDX file there", error.Message);
    }

    [Fact]
    public void CifarLoad_TarGzWithFlippedBit_CrcErrorNamesArchive()
    {
        var tar = CifarTar(4);
        var gz = Formats.Gzip(tar, CompressionLevel.NoCompression);
        var path = Write("cifar-10-binary.tar.gz", Formats.FlipBit(gz, gz.Length / 3));

        var error = Assert.Throws<DataFormatException>(() => CifarReader.Load(path, false, Formats.Small(cifarBatch: 4)));

        Assert.StartsWith($"{path}: corrupt or truncated gzip data, CRC-32 mismatch: member 1 decompresses to {tar.Length} bytes", error.Message);
    }

    [Fact]
    public void CifarLoad_TruncatedGzip_Reported()
    {
        var gz = Formats.Gzip(CifarTar(4));
        var path = Write("cut.tar.gz", gz[..(gz.Length * 2 / 3)]);

        var error = Assert.Throws<DataFormatException>(() => CifarReader.Load(path, false, Formats.Small(cifarBatch: 4)));

        Assert.StartsWith($"{path}: corrupt or truncated", error.Message);
    }

    [Fact]
    public void CifarLoad_TarWithHalfABatch_RecordCountErrorNamesTheBatch()
    {
        var path = Write("cifar-10-binary.tar.gz", Formats.Gzip(CifarTar(4, shortBatch: "data_batch_3.bin")));

        var error = Assert.Throws<DataFormatException>(() => CifarReader.Load(path, false, Formats.Small(cifarBatch: 4)));

        Assert.Equal($"{path}:data_batch_3.bin: 2 records (6,146 bytes), expected 4 CIFAR-10 records (12,292 bytes): the file is truncated or not the official one", error.Message);
    }

    [Fact]
    public void CifarParse_HalfOfAnOfficialBatch_RecordCountError()
    {
        var error = Assert.Throws<DataFormatException>(() => CifarReader.ParseBatch(new byte[5_000 * 3073], false, "data_batch_3.bin", DataRequirements.Official.CifarBatch));

        Assert.Equal("data_batch_3.bin: 5,000 records (15,365,000 bytes), expected 10,000 CIFAR-10 records (30,730,000 bytes): the file is truncated or not the official one", error.Message);
    }

    [Fact]
    public void CifarLoad_DefaultRequirements_AreTheOfficialCounts()
    {
        var path = Write("small.tar", CifarTar(4));

        var error = Assert.Throws<DataFormatException>(() => CifarReader.Load(path, false));

        Assert.Contains("data_batch_1.bin: 4 records (12,292 bytes), expected 10,000 CIFAR-10 records", error.Message);
    }

    [Fact]
    public void CifarLoad_BinIsADirectory_ErrorNamesIt()
    {
        Write("cifar-10-batches-bin/data_batch_2.bin", Formats.Cifar([1], false, 0));
        var directory = Directory.CreateDirectory(Path.Combine(_directory, "cifar-10-batches-bin", "data_batch_1.bin")).FullName;

        var error = Assert.Throws<DataFormatException>(() => CifarReader.Load(Path.Combine(_directory, "cifar-10-batches-bin"), false));

        Assert.Equal($"{directory} is a directory; expected a CIFAR batch file (.bin) there", error.Message);
    }

    [Fact]
    public void CatalogLoad_OfficialArchiveWithWrongMd5_ErrorNamesFileAndBothChecksums()
    {
        var path = Write("cifar-10-binary.tar.gz", Formats.Gzip(CifarTar(4)));

        var error = Assert.Throws<DataFormatException>(() => DatasetCatalog.Load("cifar10", _directory));

        Assert.StartsWith($"{path}: checksum md5:", error.Message);
        Assert.Contains(", expected md5:c32a1d4ab5d03f1284b67883e8d87530 (the official cifar-10-binary.tar.gz)", error.Message);
    }

    [Fact]
    public void CatalogLoad_FashionMnistWithWrongSha256_ErrorNamesFile()
    {
        var (images, labels) = Formats.Idx(10, 28, i => i);
        foreach (var prefix in new[] { "train", "t10k" })
        {
            Write($"fashion-mnist/{prefix}-images-idx3-ubyte.gz", Formats.Gzip(images));
            Write($"fashion-mnist/{prefix}-labels-idx1-ubyte.gz", Formats.Gzip(labels));
        }

        var error = Assert.Throws<DataFormatException>(() => DatasetCatalog.Load("fashion-mnist", _directory));

        Assert.StartsWith($"{Path.Combine(_directory, "fashion-mnist", "train-images-idx3-ubyte.gz")}: checksum sha256:", error.Message);
        Assert.Contains("expected sha256:b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7", error.Message);
    }

    [Fact]
    public void CatalogLoad_FashionMnistFewerImagesThanRequired_CountError()
    {
        var (images, labels) = Formats.Idx(10, 28, i => i);
        foreach (var prefix in new[] { "train", "t10k" })
        {
            Write($"fashion-mnist/{prefix}-images-idx3-ubyte.gz", Formats.Gzip(images));
            Write($"fashion-mnist/{prefix}-labels-idx1-ubyte.gz", Formats.Gzip(labels));
        }

        var error = Assert.Throws<DataFormatException>(() => DatasetCatalog.Load("fashion-mnist", _directory, requirements: Formats.Small(fashionTrain: 60, fashionTest: 10)));

        Assert.Equal($"{Path.Combine(_directory, "fashion-mnist", "train-images-idx3-ubyte.gz")}: 10 images, expected 60: the file is truncated or not the official one", error.Message);
    }

    [Theory]
    [InlineData("train-images-idx3-ubyte.gz")]
    [InlineData("t10k-labels-idx1-ubyte.gz")]
    [InlineData("t10k-labels-idx1-ubyte")]
    public void CatalogLoad_DirectoryInPlaceOfFashionMnistFile_ErrorNotEmbeddedSubset(string name)
    {
        var (images, labels) = Formats.Idx(10, 28, i => i);
        Write("fashion-mnist/train-images-idx3-ubyte.gz", Formats.Gzip(images));
        Write("fashion-mnist/train-labels-idx1-ubyte.gz", Formats.Gzip(labels));
        var directory = Path.Combine(_directory, "fashion-mnist", name);
        File.Delete(directory);
        Directory.CreateDirectory(directory);

        var error = Assert.Throws<DataFormatException>(() => DatasetCatalog.Load("fashion-mnist", _directory));

        Assert.Equal($"{directory} is a directory; expected the Fashion-MNIST file {name} there", error.Message);
    }

    [Fact]
    public void CatalogLoad_PartOfFashionMnist_ErrorListsTheMissingFiles()
    {
        var (images, _) = Formats.Idx(10, 28, i => i);
        Write("fashion-mnist/train-images-idx3-ubyte.gz", Formats.Gzip(images));
        Write("fashion-mnist/t10k-images-idx3-ubyte", images);

        var error = Assert.Throws<DataUnavailableException>(() => DatasetCatalog.Load("fashion-mnist", _directory));

        Assert.StartsWith($"{Path.Combine(_directory, "fashion-mnist")} holds part of Fashion-MNIST but not train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (t10k-images-idx3-ubyte must stay gzipped", error.Message);
    }

    [Fact]
    public void CatalogLoad_EmptyFashionMnistFolder_FallsBackToEmbedded()
    {
        Directory.CreateDirectory(Path.Combine(_directory, "fashion-mnist"));
        if (Directory.Exists("/usr/share/datasets/fashion-mnist"))
        {
            return;
        }

        Assert.StartsWith("embedded Fashion-MNIST subset", DatasetCatalog.Load("fashion-mnist", _directory).Source);
    }

    [Theory]
    [InlineData("fashion-mnist")]
    [InlineData("cifar10")]
    [InlineData("imagenet16-120")]
    public void CatalogLoad_DataDirectoryIsAFile_ErrorNamesIt(string dataset)
    {
        var path = Write("datasets", [1, 2, 3]);

        var error = Assert.Throws<DataFormatException>(() => DatasetCatalog.Load(dataset, path));

        Assert.Equal($"{path} is a file; expected the data directory (a folder of datasets) there", error.Message);
    }

    [Theory]
    [InlineData("cifar10", "cifar-10-batches-bin", "is a file; expected the extracted cifar10 folder")]
    [InlineData("cifar100", "cifar-100-binary.tar.gz", "is a directory; expected the official cifar-100-binary.tar.gz there")]
    [InlineData("imagenet16-120", "imagenet16", "is a file; expected a folder holding train_data_batch_1..10 and val_data")]
    [InlineData("fashion-mnist", "fashion-mnist", "is a file; expected a folder holding the Fashion-MNIST .gz files")]
    public void CatalogLoad_WrongKindOfPath_ErrorNamesIt(string dataset, string name, string expected)
    {
        var path = Path.Combine(_directory, name);
        if (name.EndsWith(".gz", StringComparison.Ordinal))
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Write(name, [0]);
        }

        var error = Assert.Throws<DataFormatException>(() => DatasetCatalog.Load(dataset, _directory));

        Assert.StartsWith($"{path} {expected}", error.Message);
    }

    [Fact]
    public void ImageNet16Load_BatchesShortOfTheRequiredTotal_ErrorListsEachBatch()
    {
        var folder = Path.Combine(_directory, "imagenet16");
        foreach (var (name, i) in ImageNet16Reader.TrainFiles.Append("val_data").Select((n, i) => (n, i)))
        {
            var count = name == "train_data_batch_4" ? 1 : 2;
            Write(Path.Combine("imagenet16", name), Formats.ImageNet16Pickle(new byte[count * 768], Enumerable.Repeat(1 + i, count).ToArray(), python2: false));
        }

        var error = Assert.Throws<DataFormatException>(() => ImageNet16Reader.Load(folder, requirements: Formats.Small(imageNetTrain: 20, imageNetValidation: 2)));
        var (train, validation) = ImageNet16Reader.Load(folder, requirements: Formats.Small(imageNetTrain: 19, imageNetValidation: 2));

        Assert.StartsWith($"{folder}: the training batches hold 19 images (train_data_batch_1 2, train_data_batch_2 2, train_data_batch_3 2, train_data_batch_4 1,", error.Message);
        Assert.EndsWith("expected 20: a batch is truncated or not the official one", error.Message);
        Assert.Equal((19, 2), (train.Count, validation.Count));
    }

    [Fact]
    public void ImageNet16Load_BatchIsADirectory_ErrorNamesIt()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_directory, "imagenet16", "val_data")).Parent!.FullName;

        var error = Assert.Throws<DataFormatException>(() => ImageNet16Reader.Load(folder));

        Assert.Equal($"{Path.Combine(folder, "val_data")} is a directory; expected an ImageNet16 batch file (a Python pickle) there", error.Message);
    }

    [Fact]
    public async Task Download_TargetIsADirectory_ErrorNamesIt()
    {
        var target = Directory.CreateDirectory(Path.Combine(_directory, "cifar-10-binary.tar.gz")).FullName;
        using var http = new HttpClient();

        var error = await Assert.ThrowsAsync<DataFormatException>(() => DatasetCatalog.DownloadAsync("cifar10", _directory, http));

        Assert.Equal($"{target} is a directory; expected the file cifar-10-binary.tar.gz there", error.Message);
    }
}
