from keras_fcn.data.files import DataProblem, FilePairs, missing_file_problems, summarize_problems


def test_data_problem_prints_path_then_message():
    assert str(DataProblem("a/b.png", "file is missing")) == "a/b.png: file is missing"


def test_missing_file_problems_lists_only_missing_files_in_order(tmp_path):
    (tmp_path / "here.jpg").write_bytes(b"x")
    paths = [str(tmp_path / "gone.png"), str(tmp_path / "here.jpg"), str(tmp_path / "lost.jpg")]
    problems = missing_file_problems(paths)
    assert [problem.path for problem in problems] == [paths[0], paths[2]]
    assert {problem.message for problem in problems} == {"file is missing"}


def test_summarize_problems_says_how_many_were_left_out():
    problems = [DataProblem(f"{index}.png", "file is missing") for index in range(12)]
    lines = summarize_problems(problems, limit=10).splitlines()
    # 10 problems written out, then one line for the other 12 - 10 = 2.
    assert len(lines) == 11
    assert lines[0] == "  0.png: file is missing"
    assert lines[-1] == "  ... and 2 more"


def test_file_pairs_length_is_its_number_of_examples():
    assert len(FilePairs("s", ("a.jpg", "b.jpg"), ("a.png", "b.png"))) == 2
