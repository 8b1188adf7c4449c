scenarios::lab_tests!(textbook_raft::Textbook);
